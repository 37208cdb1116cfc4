using TorchSharp;

namespace PeftSharp.IO.SafeTensors;

/// <summary>The one place that maps checkpoint element types to TorchSharp scalar types and sizes.</summary>
public static class TensorDTypes
{
    /// <summary>The TorchSharp scalar type that holds <paramref name="dtype"/> (U8 is Byte, BOOL is Bool).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a defined <see cref="TensorDType"/>.</exception>
    public static torch.ScalarType ToScalarType(this TensorDType dtype) => dtype switch
    {
        TensorDType.F64 => torch.ScalarType.Float64,
        TensorDType.F32 => torch.ScalarType.Float32,
        TensorDType.F16 => torch.ScalarType.Float16,
        TensorDType.BF16 => torch.ScalarType.BFloat16,
        TensorDType.I64 => torch.ScalarType.Int64,
        TensorDType.I32 => torch.ScalarType.Int32,
        TensorDType.I16 => torch.ScalarType.Int16,
        TensorDType.I8 => torch.ScalarType.Int8,
        TensorDType.U8 => torch.ScalarType.Byte,
        TensorDType.BOOL => torch.ScalarType.Bool,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a TensorDType"),
    };

    /// <summary>The checkpoint dtype for a scalar type, or null when safetensors cannot store it (complex, ...).</summary>
    public static TensorDType? FromScalarType(torch.ScalarType type) => type switch
    {
        torch.ScalarType.Float64 => TensorDType.F64,
        torch.ScalarType.Float32 => TensorDType.F32,
        torch.ScalarType.Float16 => TensorDType.F16,
        torch.ScalarType.BFloat16 => TensorDType.BF16,
        torch.ScalarType.Int64 => TensorDType.I64,
        torch.ScalarType.Int32 => TensorDType.I32,
        torch.ScalarType.Int16 => TensorDType.I16,
        torch.ScalarType.Int8 => TensorDType.I8,
        torch.ScalarType.Byte => TensorDType.U8,
        torch.ScalarType.Bool => TensorDType.BOOL,
        _ => null,
    };

    /// <summary>Bytes per element: 8, 4, 2 or 1.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a defined <see cref="TensorDType"/>.</exception>
    public static int ElementSize(this TensorDType dtype) => dtype switch
    {
        TensorDType.F64 or TensorDType.I64 => 8,
        TensorDType.F32 or TensorDType.I32 => 4,
        TensorDType.F16 or TensorDType.BF16 or TensorDType.I16 => 2,
        TensorDType.I8 or TensorDType.U8 or TensorDType.BOOL => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a TensorDType"),
    };

    /// <summary>The safetensors spelling ("F32", "BF16", ...).</summary>
    public static string ToName(this TensorDType dtype) => dtype switch
    {
        TensorDType.F64 => "F64",
        TensorDType.F32 => "F32",
        TensorDType.F16 => "F16",
        TensorDType.BF16 => "BF16",
        TensorDType.I64 => "I64",
        TensorDType.I32 => "I32",
        TensorDType.I16 => "I16",
        TensorDType.I8 => "I8",
        TensorDType.U8 => "U8",
        TensorDType.BOOL => "BOOL",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a TensorDType"),
    };

    /// <summary>Parses the safetensors spelling exactly (case-sensitive, as the format is).</summary>
    public static bool TryParse(string name, out TensorDType dtype)
    {
        foreach (var candidate in Supported)
        {
            if (string.Equals(candidate.ToName(), name, StringComparison.Ordinal))
            {
                dtype = candidate;
                return true;
            }
        }
        dtype = default;
        return false;
    }

    /// <summary>Every <see cref="TensorDType"/>, in declaration order.</summary>
    public static IReadOnlyList<TensorDType> Supported { get; } = Enum.GetValues<TensorDType>();

    /// <summary>The supported safetensors spellings, comma-separated ("F64, F32, ..."), for error messages.</summary>
    public static string SupportedNames => string.Join(", ", Supported.Select(d => d.ToName()));
}
