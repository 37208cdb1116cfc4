namespace PeftSharp.Quantization;

/// <summary>The 4-bit data types bitsandbytes stores: NormalFloat4 (QLoRA) and its E2M1 float4.</summary>
public enum QuantType
{
    Nf4,
    Fp4,
}

public static class QuantTypeNames
{
    /// <summary>The spelling bitsandbytes uses in quant_state keys and JSON ("nf4", "fp4").</summary>
    public static string ToBnbName(this QuantType type) => type switch
    {
        QuantType.Nf4 => "nf4",
        QuantType.Fp4 => "fp4",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unknown 4-bit quant type"),
    };

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
