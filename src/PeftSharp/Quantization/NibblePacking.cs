namespace PeftSharp.Quantization;

/// <summary>bnb's 4-bit packing on managed arrays: two codes per byte, first in the high nibble, odd tail padded with 0.</summary>
public static class NibblePacking
{
    public static byte[] Pack(ReadOnlySpan<byte> codes)
    {
        var packed = new byte[(codes.Length + 1) / 2];
        for (int i = 0; i < codes.Length; i++)
        {
            if (codes[i] > 15) throw new ArgumentOutOfRangeException(nameof(codes), codes[i], $"code {i} does not fit in 4 bits");
            packed[i >> 1] |= (byte)((i & 1) == 0 ? codes[i] << 4 : codes[i]);
        }
        return packed;
    }

    public static byte[] Unpack(ReadOnlySpan<byte> packed, int count)
    {
        if (count > 2 * packed.Length) throw new ArgumentOutOfRangeException(nameof(count), count, $"{packed.Length} bytes hold at most {2 * packed.Length} codes");
        var codes = new byte[count];
        for (int i = 0; i < count; i++) codes[i] = (byte)((i & 1) == 0 ? packed[i >> 1] >> 4 : packed[i >> 1] & 15);
        return codes;
    }
}
