namespace PeftSharp.Quantization;

/// <summary>
/// Blockwise absmax quantization to the nearest code, in parallel over chunks of blocks. The nearest code is the
/// number of midpoints (between sorted code values) at or below the value, so a value exactly on a midpoint goes to
/// the upper code: a binary search for 16 levels, a lookup table for 256 (8-bit optimizer states run it every step).
/// </summary>
internal static unsafe class BlockwiseQuantizeKernels
{
    /// <summary>Elements per parallel work item: large enough to amortize scheduling, small enough to balance.</summary>
    internal const long ElementsPerChunk = 1 << 16;

    /// <summary>Number of sorted midpoints ≤ value (levels = number of codes, a power of two).</summary>
    internal static int Bucket(float value, float* mids, int levels)
    {
        int idx = 0;
        for (int step = levels >> 1; step > 0; step >>= 1)
            if (value >= mids[idx + step - 1]) idx += step;
        return idx;
    }

    /// <summary>Quantizes n floats to 4-bit codes, two per byte, first element in the high nibble.</summary>
    public static void Quantize4Bit(float* x, long n, int blockSize, float[] mids, byte[] codeOfSorted, float* absmaxOut, byte* packedOut)
    {
        if (n == 0) return;
        nint xs = (nint)x, am = (nint)absmaxOut, po = (nint)packedOut;
        ForBlockRanges(n, blockSize, (firstBlock, endBlock) =>
        {
            float* src = (float*)xs;
            byte* dst = (byte*)po;
            float* absmax = (float*)am;
            float* m = stackalloc float[15];
            byte* codes = stackalloc byte[16];
            for (int i = 0; i < 15; i++) m[i] = mids[i];
            for (int i = 0; i < 16; i++) codes[i] = codeOfSorted[i];
            for (long b = firstBlock; b < endBlock; b++)
            {
                long start = b * blockSize, end = Math.Min(n, start + blockSize);
                float max = AbsMax(src, start, end);
                absmax[b] = max;
                float divisor = max == 0 ? 1 : max; // an all-zero block encodes the 0 code, absmax stays 0
                // blockSize is even, so every block starts on a byte boundary.
                for (long i = start; i < end; i += 2)
                {
                    int hi = codes[Bucket(src[i] / divisor, m, 16)];
                    int lo = i + 1 < end ? codes[Bucket(src[i + 1] / divisor, m, 16)] : 0;
                    dst[i >> 1] = (byte)((hi << 4) | lo);
                }
            }
        });
    }

    /// <summary>Quantizes n floats to 8-bit indices into a 256-entry code, with one fp32 absmax per block.</summary>
    public static void Quantize8Bit(float* x, long n, int blockSize, float[] mids, byte[] codeOfSorted, float* absmaxOut, byte* qOut)
    {
        if (n == 0) return;
        nint xs = (nint)x, am = (nint)absmaxOut, qo = (nint)qOut;
        var lookup = MidpointLookup.For(mids);
        ForBlockRanges(n, blockSize, (firstBlock, endBlock) =>
        {
            float* src = (float*)xs;
            byte* dst = (byte*)qo;
            float* absmax = (float*)am;
            fixed (byte* codes = codeOfSorted)
            {
                for (long b = firstBlock; b < endBlock; b++)
                {
                    long start = b * blockSize, end = Math.Min(n, start + blockSize);
                    float max = AbsMax(src, start, end);
                    absmax[b] = max;
                    float divisor = max == 0 ? 1 : max;
                    for (long i = start; i < end; i++) dst[i] = codes[lookup.Bucket(src[i] / divisor)];
                }
            }
        });
    }

    /// <summary>8-bit blockwise dequantization: code[q] * absmax[block], written as fp32.</summary>
    public static void Dequantize8Bit(byte* q, long n, int blockSize, float[] code, float* absmax, float* output)
    {
        if (n == 0) return;
        nint qs = (nint)q, am = (nint)absmax, os = (nint)output;
        ForBlockRanges(n, blockSize, (firstBlock, endBlock) =>
        {
            byte* src = (byte*)qs;
            float* dst = (float*)os;
            float* a = (float*)am;
            fixed (float* c = code)
            {
                for (long b = firstBlock; b < endBlock; b++)
                {
                    long start = b * blockSize, end = Math.Min(n, start + blockSize);
                    float scale = a[b];
                    for (long i = start; i < end; i++) dst[i] = c[src[i]] * scale;
                }
            }
        });
    }

    static float AbsMax(float* src, long start, long end)
    {
        float max = 0;
        for (long i = start; i < end; i++) max = Math.Max(max, Math.Abs(src[i]));
        return max;
    }

    /// <summary>Runs body(firstBlock, endBlock) over chunks of about ElementsPerChunk elements, in parallel unless small.</summary>
    internal static void ForBlockRanges(long n, int blockSize, Action<long, long> body)
    {
        long blocks = (n + blockSize - 1) / blockSize;
        long blocksPerChunk = Math.Max(1, ElementsPerChunk / blockSize);
        long chunks = (blocks + blocksPerChunk - 1) / blocksPerChunk;
        ForChunks(chunks, n, chunk => body(chunk * blocksPerChunk, Math.Min(blocks, (chunk + 1) * blocksPerChunk)));
    }

    /// <summary>Runs body(chunk) for every chunk, in parallel unless the tensor is small.</summary>
    internal static void ForChunks(long chunks, long elements, Action<long> body)
    {
        if (chunks == 1 || elements < 4 * ElementsPerChunk)
        {
            for (long c = 0; c < chunks; c++) body(c);
            return;
        }
        Parallel.For(0L, chunks, body);
    }
}
