namespace PeftSharp.Quantization;

/// <summary>The 4-bit data types bitsandbytes stores: NormalFloat4 (QLoRA) and its E2M1 float4.</summary>
public enum QuantType
{
    /// <summary>
    /// NormalFloat4: 16 values at quantiles of a normal distribution, information-theoretically suited to normally
    /// distributed weights (bnb "nf4", the QLoRA default).
    /// </summary>
    Nf4,
    /// <summary>bitsandbytes' 4-bit float (1 sign, 2 exponent, 1 mantissa bit; bnb "fp4").</summary>
    Fp4,
}

/// <summary>Conversions between <see cref="QuantType"/> and bitsandbytes' names.</summary>
public static class QuantTypeNames
{
    /// <summary>The spelling bitsandbytes uses in quant_state keys and JSON ("nf4", "fp4").</summary>
    public static string ToBnbName(this QuantType type) => type switch
    {
        QuantType.Nf4 => "nf4",
        QuantType.Fp4 => "fp4",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unknown 4-bit quant type"),
    };

    /// <summary>
    /// Parses bnb's lower-case name ("nf4" or "fp4", exact match) into <paramref name="type"/>; false for anything
    /// else.
    /// </summary>
    public static bool TryParseBnbName(string name, out QuantType type)
    {
        switch (name)
        {
            case "nf4": type = QuantType.Nf4; return true;
            case "fp4": type = QuantType.Fp4; return true;
            default: type = default; return false;
        }
    }
}
