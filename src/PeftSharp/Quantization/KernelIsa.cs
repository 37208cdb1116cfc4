using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PeftSharp.Quantization;

/// <summary>Which instruction set a kernel uses; every path gives bit-identical results.</summary>
public enum KernelIsa
{
    /// <summary>The widest supported: Vector512 (AVX-512 F+BW), else Vector256 (AVX2), else scalar.</summary>
    Auto,
    Scalar,
    Vector256,
    Vector512,
}

public static class KernelIsas
{
    public static bool IsSupported(KernelIsa isa) => isa switch
    {
        KernelIsa.Auto or KernelIsa.Scalar => true,
        KernelIsa.Vector256 => Vector256.IsHardwareAccelerated && Avx2.IsSupported,
        KernelIsa.Vector512 => Vector512.IsHardwareAccelerated && Avx512F.IsSupported && Avx512BW.IsSupported,
        _ => false,
    };

    public static KernelIsa Best { get; } =
        IsSupported(KernelIsa.Vector512) ? KernelIsa.Vector512 : IsSupported(KernelIsa.Vector256) ? KernelIsa.Vector256 : KernelIsa.Scalar;

    internal static KernelIsa Resolve(KernelIsa isa)
    {
        if (isa == KernelIsa.Auto) return Best;
        if (!IsSupported(isa)) throw new NotSupportedException($"this CPU does not support the {isa} kernels (best available: {Best})");
        return isa;
    }
}
