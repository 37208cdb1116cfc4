namespace PeftSharp.IO.Gguf;

/// <summary>The ggml tensor types this writer produces (values of ggml_type / GGMLQuantizationType).</summary>
public enum GgufTensorType : uint
{
    /// <summary>32-bit float.</summary>
    F32 = 0,
    /// <summary>IEEE half precision.</summary>
    F16 = 1,
    /// <summary>Blocks of 32 values: an fp16 scale d = absmax / 127, then 32 int8 q = round(x / d) (34 bytes a block).</summary>
    Q8_0 = 8,
    /// <summary>bfloat16.</summary>
    BF16 = 30,
}

/// <summary>Sizes of the tensor types: how many values a block holds and how many bytes it takes.</summary>
public static class GgufTensorTypes
{
    /// <summary>Values per block: 32 for Q8_0, 1 for the float types.</summary>
    public static int BlockSize(GgufTensorType type) => type == GgufTensorType.Q8_0 ? Q8_0.BlockSize : 1;

    /// <summary>Bytes per block: 34 for Q8_0, the element size for the float types.</summary>
    public static int BlockBytes(GgufTensorType type) => type switch
    {
        GgufTensorType.F32 => 4,
        GgufTensorType.F16 or GgufTensorType.BF16 => 2,
        GgufTensorType.Q8_0 => Q8_0.BlockBytes,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "not a type this writer produces"),
    };

    /// <summary>
    /// Bytes a tensor of <paramref name="shape"/> (torch order, outermost first) takes in <paramref name="type"/>;
    /// block types need the innermost size to be a multiple of the block size.
    /// </summary>
    /// <exception cref="ArgumentException">The innermost size is not a multiple of the block size.</exception>
    public static long ByteCount(GgufTensorType type, IReadOnlyList<long> shape)
    {
        long count = shape.Aggregate(1L, (a, b) => checked(a * b));
        int block = BlockSize(type);
        long inner = shape.Count == 0 ? 1 : shape[^1];
        if (inner % block != 0) throw new ArgumentException($"{type} needs rows of a multiple of {block} values, found {inner}", nameof(shape));
        return count / block * BlockBytes(type);
    }
}
