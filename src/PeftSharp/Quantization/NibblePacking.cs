namespace PeftSharp.Quantization;

/// <summary>bnb's 4-bit packing on managed arrays: two codes per byte, first in the high nibble, odd tail padded with 0.</summary>
public static class NibblePacking
{
    /// <summary>
    /// Packs 4-bit codes two per byte, bnb's order (even index in the high nibble); an odd count leaves the last low
    /// nibble 0.
    /// </summary>
    /// <param name="codes">One code per element, each 0..15.</param>
    /// <returns>(codes.Length + 1) / 2 bytes.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A code is above 15.</exception>
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

    /// <summary>
    /// The first <paramref name="count"/> 4-bit codes of <paramref name="packed"/>, in the order <see cref="Pack"/>
    /// wrote them.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> exceeds two codes per byte.</exception>
    public static byte[] Unpack(ReadOnlySpan<byte> packed, int count)
    {
        if (count > 2 * packed.Length) throw new ArgumentOutOfRangeException(nameof(count), count, $"{packed.Length} bytes hold at most {2 * packed.Length} codes");
        var codes = new byte[count];
        for (int i = 0; i < count; i++) codes[i] = (byte)((i & 1) == 0 ? packed[i >> 1] >> 4 : packed[i >> 1] & 15);
        return codes;
    }
}
