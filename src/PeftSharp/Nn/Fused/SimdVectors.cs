using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PeftSharp.Nn.Fused;

/// <summary>
/// One SIMD width (Vector256 or Vector512 of fp32) for kernels written once and specialised per width by the JIT.
/// Arithmetic is here too: the vectors' operators cannot be reached through generic-math constraints (the reference
/// assemblies do not declare those interfaces). bf16 loads widen to fp32; bf16 stores round to nearest even with NaN
/// to 0x7FC0, as torch's .to(bfloat16). Each load/store moves 2·Count elements.
/// </summary>
internal unsafe interface ISimdWidth<TV>
    where TV : struct
{
    static abstract int Count { get; }
    static abstract bool IsSupported { get; }
    static abstract TV Splat(float value);
    static abstract TV Add(TV a, TV b);
    static abstract TV Sub(TV a, TV b);
    static abstract TV Mul(TV a, TV b);
    static abstract TV Div(TV a, TV b);
    static abstract TV Neg(TV a);
    static abstract TV MulAdd(TV a, TV b, TV c);
    static abstract TV Clamp(TV x, float min, float max);
    static abstract TV Floor(TV x);
    /// <summary>y·2^n for integral n in [−126, 127], through the exponent bits.</summary>
    static abstract TV ScaleByPow2(TV y, TV n);
    static abstract void LoadBf16(ushort* p, out TV lo, out TV hi);
    static abstract void StoreBf16(ushort* p, TV lo, TV hi);
    static abstract void LoadF32(float* p, out TV lo, out TV hi);
    static abstract void StoreF32(float* p, TV lo, TV hi);
}

internal unsafe struct W256 : ISimdWidth<Vector256<float>>
{
    public static int Count => 8;
    public static bool IsSupported => Vector256.IsHardwareAccelerated && Avx2.IsSupported && Fma.IsSupported;
    public static Vector256<float> Splat(float value) => Vector256.Create(value);
    public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;
    public static Vector256<float> Sub(Vector256<float> a, Vector256<float> b) => a - b;
    public static Vector256<float> Mul(Vector256<float> a, Vector256<float> b) => a * b;
    public static Vector256<float> Div(Vector256<float> a, Vector256<float> b) => a / b;
    public static Vector256<float> Neg(Vector256<float> a) => -a;
    public static Vector256<float> MulAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.MultiplyAddEstimate(a, b, c);
    public static Vector256<float> Clamp(Vector256<float> x, float min, float max) => Vector256.Min(Vector256.Max(x, Vector256.Create(min)), Vector256.Create(max));
    public static Vector256<float> Floor(Vector256<float> x) => Vector256.Floor(x);
    public static Vector256<float> ScaleByPow2(Vector256<float> y, Vector256<float> n) =>
        y * Vector256.ShiftLeft(Vector256.ConvertToInt32Native(n) + Vector256.Create(127), 23).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadBf16(ushort* p, out Vector256<float> lo, out Vector256<float> hi)
    {
        var (l, h) = Vector256.Widen(Vector256.Load(p));
        lo = Vector256.ShiftLeft(l, 16).AsSingle();
        hi = Vector256.ShiftLeft(h, 16).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreBf16(ushort* p, Vector256<float> lo, Vector256<float> hi) => Vector256.Narrow(Round(lo), Round(hi)).Store(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<uint> Round(Vector256<float> v)
    {
        var bits = v.AsUInt32();
        var rounded = Vector256.ShiftRightLogical(bits + Vector256.Create(0x7FFFu) + (Vector256.ShiftRightLogical(bits, 16) & Vector256<uint>.One), 16);
        return Vector256.ConditionalSelect(Vector256.Equals(v, v).AsUInt32(), rounded, Vector256.Create(0x7FC0u));
    }

    public static void LoadF32(float* p, out Vector256<float> lo, out Vector256<float> hi) => (lo, hi) = (Vector256.Load(p), Vector256.Load(p + 8));

    public static void StoreF32(float* p, Vector256<float> lo, Vector256<float> hi)
    {
        lo.Store(p);
        hi.Store(p + 8);
    }
}

internal unsafe struct W512 : ISimdWidth<Vector512<float>>
{
    public static int Count => 16;
    public static bool IsSupported => Vector512.IsHardwareAccelerated && Avx512F.IsSupported && Avx512BW.IsSupported;
    public static Vector512<float> Splat(float value) => Vector512.Create(value);
    public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;
    public static Vector512<float> Sub(Vector512<float> a, Vector512<float> b) => a - b;
    public static Vector512<float> Mul(Vector512<float> a, Vector512<float> b) => a * b;
    public static Vector512<float> Div(Vector512<float> a, Vector512<float> b) => a / b;
    public static Vector512<float> Neg(Vector512<float> a) => -a;
    public static Vector512<float> MulAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.MultiplyAddEstimate(a, b, c);
    public static Vector512<float> Clamp(Vector512<float> x, float min, float max) => Vector512.Min(Vector512.Max(x, Vector512.Create(min)), Vector512.Create(max));
    public static Vector512<float> Floor(Vector512<float> x) => Vector512.Floor(x);
    public static Vector512<float> ScaleByPow2(Vector512<float> y, Vector512<float> n) =>
        y * Vector512.ShiftLeft(Vector512.ConvertToInt32Native(n) + Vector512.Create(127), 23).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadBf16(ushort* p, out Vector512<float> lo, out Vector512<float> hi)
    {
        var (l, h) = Vector512.Widen(Vector512.Load(p));
        lo = Vector512.ShiftLeft(l, 16).AsSingle();
        hi = Vector512.ShiftLeft(h, 16).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreBf16(ushort* p, Vector512<float> lo, Vector512<float> hi) => Vector512.Narrow(Round(lo), Round(hi)).Store(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<uint> Round(Vector512<float> v)
    {
        var bits = v.AsUInt32();
        var rounded = Vector512.ShiftRightLogical(bits + Vector512.Create(0x7FFFu) + (Vector512.ShiftRightLogical(bits, 16) & Vector512<uint>.One), 16);
        return Vector512.ConditionalSelect(Vector512.Equals(v, v).AsUInt32(), rounded, Vector512.Create(0x7FC0u));
    }

    public static void LoadF32(float* p, out Vector512<float> lo, out Vector512<float> hi) => (lo, hi) = (Vector512.Load(p), Vector512.Load(p + 16));

    public static void StoreF32(float* p, Vector512<float> lo, Vector512<float> hi)
    {
        lo.Store(p);
        hi.Store(p + 16);
    }
}
