namespace PeftSharp.Quantization;

/// <summary>
/// Nearest-code search for 256-level codes in a few instructions: a table indexed by a float's top 16 bits (sign,
/// exponent, 7 mantissa bits) gives the number of midpoints at or below the smallest value of that bit range, and a
/// short forward scan finishes. It returns exactly what the binary search over the midpoints returns, for every
/// float (NaN gives 0, as there); tables are built once per code and cached.
/// </summary>
internal sealed unsafe class MidpointLookup
{
    static readonly Dictionary<long, MidpointLookup> Cache = new();
    static readonly Lock Gate = new();

    readonly float[] mids;
    readonly ushort[] table = new ushort[1 << 16];

    MidpointLookup(float[] mids)
    {
        this.mids = mids;
        for (int p = 0; p < table.Length; p++)
        {
            // Positive floats grow with their bits, negative ones shrink: the smallest value of a range is its first
            // bit pattern when positive and its last when negative.
            uint bits = (uint)p << 16;
            float lowest = BitConverter.UInt32BitsToSingle((p & 0x8000) == 0 ? bits : bits | 0xFFFF);
            table[p] = (ushort)CountAtOrBelow(lowest);
        }
    }

    int CountAtOrBelow(float value)
    {
        int idx = 0;
        for (int step = 128; step > 0; step >>= 1)
            if (idx + step - 1 < mids.Length && value >= mids[idx + step - 1]) idx += step;
        return idx;
    }

    public static MidpointLookup For(float[] mids)
    {
        if (mids.Length != 255) throw new ArgumentException($"an 8-bit code has 255 midpoints, not {mids.Length}", nameof(mids));
        long key = 17;
        foreach (var m in mids) key = key * 31 + BitConverter.SingleToInt32Bits(m);
        lock (Gate)
        {
            if (Cache.TryGetValue(key, out var hit) && hit.mids.AsSpan().SequenceEqual(mids)) return hit;
            var built = new MidpointLookup((float[])mids.Clone());
            Cache[key] = built;
            return built;
        }
    }

    /// <summary>Number of midpoints ≤ value: the index of the nearest code in sorted order.</summary>
    public int Bucket(float value)
    {
        if (float.IsNaN(value)) return 0;
        int idx = table[BitConverter.SingleToUInt32Bits(value) >> 16];
        while (idx < 255 && value >= mids[idx]) idx++;
        return idx;
    }
}
