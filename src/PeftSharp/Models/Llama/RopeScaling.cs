namespace PeftSharp.Models.Llama;

/// <summary>RoPE frequency scaling as HF configs spell it (rope_scaling / rope_parameters).</summary>
public sealed record RopeScaling(
    string Type,
    double Factor = 1.0,
    double LowFreqFactor = 1.0,
    double HighFreqFactor = 4.0,
    int OriginalMaxPositionEmbeddings = 8192)
{
    /// <summary>
    /// The rope types implemented: "default" (none), "linear" (positions divided by factor) and "llama3" (Llama 3.1's
    /// frequency-dependent scaling).
    /// </summary>
    public static readonly string[] Supported = { "default", "linear", "llama3" };
}
