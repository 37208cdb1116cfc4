using PeftSharp.Models.Llama;

namespace PeftSharp.Bench.Suite;

/// <summary>The model shapes the suite trains, with random weights it creates itself.</summary>
public static class SuiteShapes
{
    /// <summary>The shapes the issue names: what `suite` runs by default.</summary>
    public static readonly string[] Default = { "smollm-135m", "qwen2.5-0.5b" };

    /// <summary>Every shape `--shapes` accepts.</summary>
    public static readonly string[] Names = { "smollm-135m", "qwen2.5-0.5b", "llama-3.2-3b" };

    /// <summary>The shape by name with <paramref name="layers"/> layers (0 = the real count).</summary>
    public static LlamaConfig Get(string name, int layers = 0)
    {
        var c = name switch
        {
            "smollm-135m" or "smollm" => BenchModels.SmolLm135M(),
            "qwen2.5-0.5b" or "qwen" => BenchModels.Qwen25_05B(),
            "llama-3.2-3b" => BenchModels.Llama32_3B(),
            _ => throw new ArgumentException($"unknown shape '{name}'; known: {string.Join(", ", Names)}"),
        };
        return layers > 0 ? c with { NumHiddenLayers = layers } : c;
    }
}
