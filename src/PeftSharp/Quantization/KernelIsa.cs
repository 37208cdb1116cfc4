using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PeftSharp.Quantization;

/// <summary>Which instruction set a kernel uses; every path gives bit-identical results.</summary>
public enum KernelIsa
{
    /// <summary>The widest supported: Vector512 (AVX-512 F+BW), else Vector256 (AVX2), else scalar.</summary>
    Auto,
    /// <summary>Portable scalar code: runs everywhere; the reference the vector paths match bit for bit.</summary>
    Scalar,
    /// <summary>256-bit vectors (needs AVX2).</summary>
    Vector256,
    /// <summary>512-bit vectors (needs AVX-512 F and BW).</summary>
    Vector512,
}

/// <summary>What this CPU offers the quantization kernels (to pick a path, or to benchmark each one).</summary>
public static class KernelIsas
{
    /// <summary>
    /// Whether kernels can run with <paramref name="isa"/> on this CPU and runtime; always true for Auto and Scalar.
    /// </summary>
    public static bool IsSupported(KernelIsa isa) => isa switch
    {
        KernelIsa.Auto or KernelIsa.Scalar => true,
        KernelIsa.Vector256 => Vector256.IsHardwareAccelerated && Avx2.IsSupported,
        KernelIsa.Vector512 => Vector512.IsHardwareAccelerated && Avx512F.IsSupported && Avx512BW.IsSupported,
        _ => false,
    };

    /// <summary>
    /// The widest instruction set supported here (what <see cref="KernelIsa.Auto"/> resolves to), found once at
    /// start-up.
    /// </summary>
    public static KernelIsa Best { get; } =
        IsSupported(KernelIsa.Vector512) ? KernelIsa.Vector512 : IsSupported(KernelIsa.Vector256) ? KernelIsa.Vector256 : KernelIsa.Scalar;

    internal static KernelIsa Resolve(KernelIsa isa)
    {
        if (isa == KernelIsa.Auto) return Best;
        if (!IsSupported(isa)) throw new NotSupportedException($"this CPU does not support the {isa} kernels (best available: {Best})");
        return isa;
    }
}
