using PeftSharp.Models.Llama;

namespace PeftSharp.Tests.Support;

/// <summary>Small random Llama-family models built in the test.</summary>
public static class TinyModels
{
    public static LlamaConfig Config(string type = "llama", int kvHeads = 2, bool tied = false) => new()
    {
        ModelType = type,
        VocabSize = 97,
        HiddenSize = 32,
        IntermediateSize = 48,
        NumHiddenLayers = 2,
        NumAttentionHeads = 4,
        NumKeyValueHeads = kvHeads,
        HeadDim = 8,
        MaxPositionEmbeddings = 128,
        RmsNormEps = 1e-6,
        RopeTheta = 10000,
        AttentionBias = type == "qwen2",
        TieWordEmbeddings = tied,
        BosTokenId = 1,
        EosTokenIds = new[] { 2 },
    };

    /// <summary>A model with every parameter random (norm weights near 1), seeded.</summary>
    public static LlamaForCausalLM Random(LlamaConfig config, long seed = 0, ScalarType dtype = ScalarType.Float32)
    {
        var model = new LlamaForCausalLM(config, dtype);
        Randomize(model, seed);
        return model;
    }

    public static void Randomize(nn.Module model, long seed)
    {
        using var gen = new Generator().manual_seed(seed);
        using (no_grad())
        {
            foreach (var (name, p) in model.named_parameters())
            {
                using var r = randn(p.shape, ScalarType.Float32, generator: gen);
                if (name.Contains("norm")) p.copy_(1 + 0.1 * r);
                else p.copy_(0.2 * r);
            }
        }
    }

    public static Tensor Ids(params long[][] rows) => tensor(rows.SelectMany(r => r).ToArray(), new long[] { rows.Length, rows[0].Length });
}
