using PeftSharp.IO.SafeTensors;
using PeftSharp.Models.Whisper;

namespace PeftSharp.Tests.Support;

/// <summary>A tiny random Whisper (d_model 64, 2+2 layers, 4 heads, 80 mels, the multilingual vocabulary), in memory or as an HF folder.</summary>
public static class TinyWhisper
{
    public static WhisperConfig Config() => new()
    {
        VocabSize = 51865,
        NumMelBins = 80,
        DModel = 64,
        EncoderLayers = 2,
        DecoderLayers = 2,
        EncoderAttentionHeads = 4,
        DecoderAttentionHeads = 4,
        EncoderFfnDim = 128,
        DecoderFfnDim = 128,
        MaxSourcePositions = 1500,
        MaxTargetPositions = 448,
    };

    /// <summary>Every parameter random and seeded (LayerNorm weights near 1, encoder positions kept sinusoidal).</summary>
    public static WhisperForConditionalGeneration Random(long seed = 0, ScalarType dtype = ScalarType.Float32, WhisperConfig? config = null)
    {
        var model = new WhisperForConditionalGeneration(config ?? Config(), dtype);
        using var gen = new Generator().manual_seed(seed);
        using (no_grad())
        {
            foreach (var (name, p) in model.named_parameters())
            {
                if (name == WhisperForConditionalGeneration.EncoderPositionsKey) continue;
                using var r = randn(p.shape, ScalarType.Float32, generator: gen);
                p.copy_(name.Contains("layer_norm") && name.EndsWith(".weight") ? 1 + 0.1 * r : 0.2 * r);
            }
        }
        return model;
    }

    /// <summary>
    /// Writes the model as an HF folder (config.json, model.safetensors without the tied proj_out.weight) plus the
    /// fixture's multilingual.tiktoken; returns the folder.
    /// </summary>
    public static string WriteFolder(string folder, WhisperForConditionalGeneration model, bool withEncoderPositions = true,
        Func<string, bool>? keep = null, bool withTokenizer = true)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "config.json"), model.Config.ToJson().ToJsonString());
        var tensors = model.state_dict()
            .Where(kv => kv.Key != WhisperForConditionalGeneration.OutputProjectionKey)
            .Where(kv => withEncoderPositions || kv.Key != WhisperForConditionalGeneration.EncoderPositionsKey)
            .Where(kv => keep?.Invoke(kv.Key) ?? true)
            .ToList();
        SafeTensorsWriter.Write(Path.Combine(folder, "model.safetensors"), tensors);
        if (withTokenizer) File.Copy(Fixtures.Require("whisper", "multilingual.tiktoken"), Path.Combine(folder, "multilingual.tiktoken"));
        return folder;
    }

    /// <summary>Seeded random log-mel-like features [batch, 80, 3000].</summary>
    public static Tensor Features(int batch, long seed, ScalarType dtype = ScalarType.Float32)
    {
        using var gen = new Generator().manual_seed(seed);
        return randn(new long[] { batch, 80, 3000 }, dtype, generator: gen);
    }
}
