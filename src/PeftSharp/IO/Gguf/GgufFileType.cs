namespace PeftSharp.IO.Gguf;

/// <summary>
/// The --outtype choices and the general.file_type value llama.cpp records for each (llama_ftype / gguf-py's
/// LlamaFileType): ALL_F32 0, MOSTLY_F16 1, MOSTLY_Q8_0 7, MOSTLY_BF16 32.
/// </summary>
public enum GgufFileType
{
    /// <summary>Every tensor float32.</summary>
    F32 = 0,
    /// <summary>Matrices in fp16, norms and vectors float32.</summary>
    F16 = 1,
    /// <summary>Matrices in Q8_0 (fp16 where a row is not a multiple of 32), norms and vectors float32.</summary>
    Q8_0 = 7,
    /// <summary>Matrices in bfloat16, norms and vectors float32.</summary>
    BF16 = 32,
}

/// <summary>Parsing --outtype and choosing each tensor's type as llama.cpp's convert_hf_to_gguf.py does.</summary>
public static class GgufFileTypes
{
    /// <summary>The names --outtype takes.</summary>
    public const string Names = "f32, f16, bf16, q8_0";

    /// <summary>f32, f16, bf16 or q8_0 (case-insensitive).</summary>
    /// <exception cref="ConfigurationException">Any other name.</exception>
    public static GgufFileType Parse(string name) => name.ToLowerInvariant() switch
    {
        "f32" or "float32" => GgufFileType.F32,
        "f16" or "float16" => GgufFileType.F16,
        "bf16" or "bfloat16" => GgufFileType.BF16,
        "q8_0" => GgufFileType.Q8_0,
        _ => throw new ConfigurationException($"unknown GGUF outtype '{name}': use one of {Names}"),
    };

    /// <summary>
    /// The type one tensor is stored in: float32 for vectors and norm weights (llama.cpp keeps them so), else the
    /// file type's; Q8_0 falls back to F16 for a tensor whose rows are not a multiple of 32, as the converter does.
    /// </summary>
    /// <param name="fileType">The requested outtype.</param>
    /// <param name="ggufName">The tensor's GGUF name (norms end with "_norm.weight").</param>
    /// <param name="shape">Torch shape, outermost first.</param>
    public static GgufTensorType TensorType(GgufFileType fileType, string ggufName, IReadOnlyList<long> shape)
    {
        if (shape.Count <= 1 || ggufName.EndsWith("_norm.weight", StringComparison.Ordinal)) return GgufTensorType.F32;
        return fileType switch
        {
            GgufFileType.F32 => GgufTensorType.F32,
            GgufFileType.F16 => GgufTensorType.F16,
            GgufFileType.BF16 => GgufTensorType.BF16,
            GgufFileType.Q8_0 => shape[^1] % Q8_0.BlockSize == 0 ? GgufTensorType.Q8_0 : GgufTensorType.F16,
            _ => throw new ArgumentOutOfRangeException(nameof(fileType), fileType, null),
        };
    }
}
