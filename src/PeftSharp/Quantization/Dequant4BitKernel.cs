using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PeftSharp.Quantization;

/// <summary>Where a 4-bit dequantization reads its absmax from: fp32 per block, or double-quantized.</summary>
internal readonly unsafe struct AbsmaxSource
{
    public readonly float* Absmax;          // fp32 [blocks], or null when double-quantized
    public readonly byte* Quantized;        // uint8 [blocks] indices into NestedCode
    public readonly float* NestedAbsmax;    // fp32 [ceil(blocks / NestedBlockSize)]
    public readonly float* NestedCode;      // fp32 [256]
    public readonly int NestedBlockSize;
    public readonly float Offset;

    public AbsmaxSource(float* absmax) => Absmax = absmax;

    public AbsmaxSource(byte* quantized, float* nestedAbsmax, float* nestedCode, int nestedBlockSize, float offset)
    {
        Quantized = quantized;
        NestedAbsmax = nestedAbsmax;
        NestedCode = nestedCode;
        NestedBlockSize = nestedBlockSize;
        Offset = offset;
    }

    /// <summary>bnb's order of operations: code[q] * nested_absmax, then + offset (two roundings, no FMA).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Get(long block)
    {
        if (Absmax != null) return Absmax[block];
        float scaled = NestedCode[Quantized[block]] * NestedAbsmax[block / NestedBlockSize];
        return scaled + Offset;
    }
}

/// <summary>
/// Dequantizes packed 4-bit codes (two per byte, first element in the high nibble) to fp32 or bf16. Per block it
/// builds the 16 values code[k] * absmax once, then each nibble is a table lookup done 16 or 32 lanes at a time by a
/// register permute (vpermps / vpermw), so the inner loop has no multiplies and no gathers. Every ISA path uses the
/// same per-block table, so all give the same bits as the scalar path and as torch's code[idx] * absmax.
/// </summary>
internal static unsafe class Dequant4BitKernel
{
    public static void Run(byte* packed, long n, int blockSize, float* code16, AbsmaxSource absmax, void* output, bool bf16, KernelIsa isa)
    {
        if (n == 0) return;
        isa = KernelIsas.Resolve(isa);
        nint src = (nint)packed, dst = (nint)output, code = (nint)code16;
        BlockwiseQuantizeKernels.ForBlockRanges(n, blockSize, (first, last) =>
            DecodeBlocks((byte*)src, n, blockSize, (float*)code, absmax, dst, bf16, isa, first, last));
    }

    static void DecodeBlocks(byte* src, long n, int blockSize, float* code, AbsmaxSource absmax, nint dst, bool bf16, KernelIsa isa, long first, long last)
    {
        float* table = stackalloc float[16];
        ushort* tableBf16 = stackalloc ushort[32]; // 32 lanes for vpermw; only the first 16 are ever indexed
        var code512 = isa == KernelIsa.Vector512 ? Vector512.Load(code) : default;
        for (long b = first; b < last; b++)
        {
            float a = absmax.Get(b);
            long start = b * blockSize;
            long count = Math.Min(blockSize, n - start);
            long fullBytes = count >> 1;
            byte* bytes = src + (start >> 1);
            long done = 0;
            // AVX-512 builds the block's table in registers (one multiply, one rounding for bf16): per block, the scalar
            // table cost more than decoding its 64 values.
            if (isa == KernelIsa.Vector512)
            {
                var t = code512 * Vector512.Create(a);
                done = bf16 ? Bf16Vector512(bytes, fullBytes, Bf16Table(t), (ushort*)dst + start) : F32Vector512(bytes, fullBytes, t, (float*)dst + start);
                if (done == fullBytes && (count & 1) == 0) continue;
            }
            for (int k = 0; k < 16; k++) table[k] = code[k] * a;
            if (bf16)
            {
                for (int k = 0; k < 16; k++) tableBf16[k] = tableBf16[k + 16] = BFloat16Bits.FromSingle(table[k]);
                ushort* o = (ushort*)dst + start;
                if (isa == KernelIsa.Vector256) done = Bf16Vector256(bytes, fullBytes, tableBf16, o);
                for (long j = done; j < fullBytes; j++)
                {
                    o[2 * j] = tableBf16[bytes[j] >> 4];
                    o[2 * j + 1] = tableBf16[bytes[j] & 15];
                }
                if ((count & 1) != 0) o[count - 1] = tableBf16[bytes[fullBytes] >> 4];
            }
            else
            {
                float* o = (float*)dst + start;
                if (isa == KernelIsa.Vector256) done = F32Vector256(bytes, fullBytes, table, o);
                for (long j = done; j < fullBytes; j++)
                {
                    o[2 * j] = table[bytes[j] >> 4];
                    o[2 * j + 1] = table[bytes[j] & 15];
                }
                if ((count & 1) != 0) o[count - 1] = table[bytes[fullBytes] >> 4];
            }
        }
    }

    /// <summary>
    /// The 16 table values rounded to bf16 as <see cref="BFloat16Bits.FromSingle"/> does (nearest even, NaN to 0x7FC0),
    /// in the low 16 lanes of a vpermw table (the upper lanes are never indexed).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<ushort> Bf16Table(Vector512<float> t)
    {
        var bits = t.AsUInt32();
        var rounded = (bits + Vector512.Create(0x7FFFu) + ((bits >>> 16) & Vector512<uint>.One)) >>> 16;
        rounded = Vector512.ConditionalSelect(Vector512.Equals(t, t).AsUInt32(), rounded, Vector512.Create(0x7FC0u));
        return Avx512F.ConvertToVector256UInt16(rounded).ToVector512Unsafe();
    }

    /// <summary>16 packed bytes to 32 nibble indices in element order: hi0, lo0, hi1, lo1, ...</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static (Vector128<byte> First, Vector128<byte> Second) Nibbles(Vector128<byte> b)
    {
        var mask = Vector128.Create((byte)0x0F);
        var hi = (b.AsUInt16() >>> 4).AsByte() & mask;
        var lo = b & mask;
        return (Sse2.UnpackLow(hi, lo), Sse2.UnpackHigh(hi, lo));
    }

    static long F32Vector512(byte* bytes, long count, Vector512<float> t, float* o)
    {
        long j = 0;
        for (; j + 16 <= count; j += 16)
        {
            var (i0, i1) = Nibbles(Vector128.Load(bytes + j));
            Avx512F.PermuteVar16x32(t, Avx512F.ConvertToVector512Int32(i0)).Store(o + 2 * j);
            Avx512F.PermuteVar16x32(t, Avx512F.ConvertToVector512Int32(i1)).Store(o + 2 * j + 16);
        }
        return j;
    }

    static long Bf16Vector512(byte* bytes, long count, Vector512<ushort> t, ushort* o)
    {
        long j = 0;
        for (; j + 16 <= count; j += 16)
        {
            var (i0, i1) = Nibbles(Vector128.Load(bytes + j));
            var idx = Avx512BW.ConvertToVector512UInt16(Vector256.Create(i0, i1));
            Avx512BW.PermuteVar32x16(t, idx).Store(o + 2 * j);
        }
        return j;
    }

    /// <summary>AVX2 has only 8-lane permutes: look up in both halves of the table and blend on index bit 3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Lookup16(Vector256<float> t0, Vector256<float> t1, Vector256<int> idx) =>
        Avx.BlendVariable(Avx2.PermuteVar8x32(t0, idx), Avx2.PermuteVar8x32(t1, idx), Avx2.ShiftLeftLogical(idx, 28).AsSingle());

    static long F32Vector256(byte* bytes, long count, float* table, float* o)
    {
        var t0 = Vector256.Load(table);
        var t1 = Vector256.Load(table + 8);
        long j = 0;
        for (; j + 16 <= count; j += 16)
        {
            var (i0, i1) = Nibbles(Vector128.Load(bytes + j));
            Lookup16(t0, t1, Avx2.ConvertToVector256Int32(i0)).Store(o + 2 * j);
            Lookup16(t0, t1, Avx2.ConvertToVector256Int32(Sse2.ShiftRightLogical128BitLane(i0, 8))).Store(o + 2 * j + 8);
            Lookup16(t0, t1, Avx2.ConvertToVector256Int32(i1)).Store(o + 2 * j + 16);
            Lookup16(t0, t1, Avx2.ConvertToVector256Int32(Sse2.ShiftRightLogical128BitLane(i1, 8))).Store(o + 2 * j + 24);
        }
        return j;
    }

    static long Bf16Vector256(byte* bytes, long count, ushort* table, ushort* o)
    {
        // bf16 bit patterns widened to 32-bit lanes so the 8-lane permute applies; narrowed back after.
        int* wide = stackalloc int[16];
        for (int k = 0; k < 16; k++) wide[k] = table[k];
        var t0 = Vector256.Load(wide).AsSingle();
        var t1 = Vector256.Load(wide + 8).AsSingle();
        long j = 0;
        for (; j + 16 <= count; j += 16)
        {
            var (i0, i1) = Nibbles(Vector128.Load(bytes + j));
            Pack(Lookup16(t0, t1, Avx2.ConvertToVector256Int32(i0)), Lookup16(t0, t1, Avx2.ConvertToVector256Int32(Sse2.ShiftRightLogical128BitLane(i0, 8)))).Store(o + 2 * j);
            Pack(Lookup16(t0, t1, Avx2.ConvertToVector256Int32(i1)), Lookup16(t0, t1, Avx2.ConvertToVector256Int32(Sse2.ShiftRightLogical128BitLane(i1, 8)))).Store(o + 2 * j + 16);
        }
        return j;
    }

    /// <summary>Two 8 x int32 (values &lt; 2^16) to 16 x uint16 in order; packus interleaves 128-bit lanes, so reorder.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<ushort> Pack(Vector256<float> a, Vector256<float> b) =>
        Avx2.Permute4x64(Avx2.PackUnsignedSaturate(a.AsInt32(), b.AsInt32()).AsUInt64(), 0b11_01_10_00).AsUInt16();
}
