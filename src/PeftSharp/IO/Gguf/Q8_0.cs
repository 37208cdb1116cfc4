namespace PeftSharp.IO.Gguf;

/// <summary>
/// ggml's Q8_0 block quantization, computed as gguf-py's quants.py does (so files match the reference converter byte
/// for byte): per block of 32 values d = absmax / 127 in float32, q = roundf(x * (1 / d)) with halves rounded away
/// from zero, stored as d in fp16 followed by the 32 int8 values.
/// </summary>
public static class Q8_0
{
    /// <summary>Values per block.</summary>
    public const int BlockSize = 32;
    /// <summary>Bytes per block: 2 (fp16 scale) + 32 (int8).</summary>
    public const int BlockBytes = 2 + BlockSize;

    /// <summary>Quantizes <paramref name="values"/> (a multiple of 32 long) into <paramref name="output"/>.</summary>
    /// <exception cref="ArgumentException">The lengths do not fit.</exception>
    public static void Quantize(ReadOnlySpan<float> values, Span<byte> output)
    {
        if (values.Length % BlockSize != 0) throw new ArgumentException($"Q8_0 needs a multiple of {BlockSize} values, found {values.Length}", nameof(values));
        if (output.Length != values.Length / BlockSize * BlockBytes) throw new ArgumentException("output length must be 34 bytes per block", nameof(output));
        for (int b = 0; b < values.Length / BlockSize; b++)
        {
            var block = values.Slice(b * BlockSize, BlockSize);
            var dest = output.Slice(b * BlockBytes, BlockBytes);
            float amax = 0;
            foreach (float x in block) amax = Math.Max(amax, Math.Abs(x));
            float d = amax / 127f;
            float id = d == 0 ? 0 : 1f / d;
            System.Buffers.Binary.BinaryPrimitives.WriteHalfLittleEndian(dest, (Half)d);
            for (int j = 0; j < BlockSize; j++)
                dest[2 + j] = unchecked((byte)(sbyte)MathF.Round(block[j] * id, MidpointRounding.AwayFromZero));
        }
    }

    /// <summary>Byte array form of <see cref="Quantize(ReadOnlySpan{float}, Span{byte})"/>.</summary>
    public static byte[] Quantize(ReadOnlySpan<float> values)
    {
        var output = new byte[values.Length / BlockSize * BlockBytes];
        Quantize(values, output);
        return output;
    }
}
