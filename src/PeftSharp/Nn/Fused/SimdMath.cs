using System.Runtime.CompilerServices;

namespace PeftSharp.Nn.Fused;

/// <summary>
/// Vector math and element access for the fused kernels, written once for every <see cref="ISimdWidth{TV}"/>.
/// .NET's own Vector256.Exp is about 10x slower than <see cref="Exp"/> here, which would make SwiGLU slower than torch.
/// </summary>
internal static unsafe class SimdMath<TV, TW>
    where TV : struct
    where TW : struct, ISimdWidth<TV>
{
    /// <summary>
    /// e^x to about 1 ulp (Cephes expf: Cody–Waite reduction by ln 2, degree-6 polynomial, 2^n from the exponent bits).
    /// x is clamped to [−87.34, 88.38], so the result stays a normal float (no inf, no denormals); NaN stays NaN.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Exp(TV x)
    {
        x = TW.Clamp(x, -87.33654f, 88.37626f);
        var n = TW.Floor(TW.MulAdd(x, TW.Splat(1.44269504088896341f), TW.Splat(0.5f)));
        var r = TW.MulAdd(n, TW.Splat(-0.693359375f), x);
        r = TW.MulAdd(n, TW.Splat(2.12194440e-4f), r);
        var p = TW.Splat(1.9875691500e-4f);
        p = TW.MulAdd(p, r, TW.Splat(1.3981999507e-3f));
        p = TW.MulAdd(p, r, TW.Splat(8.3334519073e-3f));
        p = TW.MulAdd(p, r, TW.Splat(4.1665795894e-2f));
        p = TW.MulAdd(p, r, TW.Splat(1.6666665459e-1f));
        p = TW.MulAdd(p, r, TW.Splat(5.0000001201e-1f));
        var y = TW.Add(TW.MulAdd(p, TW.Mul(r, r), r), TW.Splat(1f));
        return TW.ScaleByPow2(y, n);
    }

    /// <summary>σ(x) = 1 / (1 + e^−x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Sigmoid(TV x) => TW.Div(TW.Splat(1f), TW.Add(TW.Splat(1f), Exp(TW.Neg(x))));

    /// <summary>2·Count elements from p[i..] (bf16 or fp32) as fp32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load<TE>(nint p, long i, out TV lo, out TV hi) where TE : struct, IElementType
    {
        if (TE.IsBf16) TW.LoadBf16((ushort*)p + i, out lo, out hi);
        else TW.LoadF32((float*)p + i, out lo, out hi);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store<TE>(nint p, long i, TV lo, TV hi) where TE : struct, IElementType
    {
        if (TE.IsBf16) TW.StoreBf16((ushort*)p + i, lo, hi);
        else TW.StoreF32((float*)p + i, lo, hi);
    }
}

/// <summary>The element types the kernels read and write; a struct per type, so the JIT removes the other branch.</summary>
internal interface IElementType
{
    static abstract bool IsBf16 { get; }
    static abstract int Size { get; }
}

internal struct Bf16Element : IElementType
{
    public static bool IsBf16 => true;
    public static int Size => 2;
}

internal struct F32Element : IElementType
{
    public static bool IsBf16 => false;
    public static int Size => 4;
}
