using PeftSharp.Models;
using PeftSharp.Models.Llama;
using static TorchSharp.torch;

namespace PeftSharp.Bench;

/// <summary>The model shapes the benchmarks use, and the setup step that writes random checkpoints of them.</summary>
public static class BenchModels
{
    /// <summary>SmolLM-135M's shape (tied head) with <paramref name="layers"/> layers (30 in the real model).</summary>
    public static LlamaConfig SmolLm135M(int layers = 30) => new()
    {
        ModelType = "llama", VocabSize = 49152, HiddenSize = 576, IntermediateSize = 1536, NumHiddenLayers = layers,
        NumAttentionHeads = 9, NumKeyValueHeads = 3, HeadDim = 64, MaxPositionEmbeddings = 8192, RmsNormEps = 1e-5,
        RopeTheta = 10000, TieWordEmbeddings = true,
    };

    /// <summary>Qwen2.5-0.5B's shape (494M parameters, tied head).</summary>
    public static LlamaConfig Qwen25_05B() => new()
    {
        ModelType = "qwen2",
        VocabSize = 151936,
        HiddenSize = 896,
        IntermediateSize = 4864,
        NumHiddenLayers = 24,
        NumAttentionHeads = 14,
        NumKeyValueHeads = 2,
        HeadDim = 64,
        MaxPositionEmbeddings = 32768,
        RmsNormEps = 1e-6,
        RopeTheta = 1000000,
        AttentionBias = true,
        TieWordEmbeddings = true,
        BosTokenId = 151643,
        EosTokenIds = new[] { 151643 },
    };

    /// <summary>
    /// Llama-3.2-3B's shape (without its long-context RoPE scaling, which changes no shapes): the size where 4-bit linear
    /// weights dominate a QLoRA run's memory. Not in the suite's default matrix (6.4 GB checkpoint, about 15 s a step here).
    /// </summary>
    public static LlamaConfig Llama32_3B() => new()
    {
        ModelType = "llama",
        VocabSize = 128256,
        HiddenSize = 3072,
        IntermediateSize = 8192,
        NumHiddenLayers = 28,
        NumAttentionHeads = 24,
        NumKeyValueHeads = 8,
        HeadDim = 128,
        MaxPositionEmbeddings = 131072,
        RmsNormEps = 1e-5,
        RopeTheta = 500000,
        TieWordEmbeddings = true,
        BosTokenId = 128000,
        EosTokenIds = new[] { 128001 },
    };

    /// <summary>Writes a random bf16 checkpoint of <paramref name="config"/> to <paramref name="dir"/> unless it is already there.</summary>
    public static void EnsureRandomCheckpoint(LlamaConfig config, string dir)
    {
        if (File.Exists(Path.Combine(dir, "config.json"))) return;
        Console.Error.WriteLine($"setup: writing a random {config.ModelType} checkpoint to {dir} ...");
        var model = new LlamaForCausalLM(config, ScalarType.BFloat16);
        using (no_grad())
        {
            manual_seed(0);
            foreach (var (_, p) in model.named_parameters()) p.normal_(0, 0.02);
        }
        ModelFolderWriter.Save(model, dir, maxShardBytes: 2L << 30);
        model.Dispose();
    }
}
