using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Nn;

/// <summary>
/// bf16 GEMMs run as fp32 GEMMs on CPUs whose bf16 GEMM is the slower one. libtorch's CPU bf16 GEMM is fast only with
/// AMX: on this project's Xeon without AMX it ran at 167 GFLOP/s against 330 in fp32 (with AMX, 830-890 in bf16).
/// Widening bf16 operands to fp32 is exact, and fp32 accumulation is what a bf16 GEMM does anyway, so the product
/// differs only in summation order; the result is rounded back to bf16 once. Only products with at least
/// <see cref="MinRows"/> rows are widened (token-by-token decoding is bound by reading the weights, which widening
/// doubles).
/// </summary>
public static class WideGemm
{
    /// <summary>Fewer rows than this keep the compute dtype.</summary>
    public const int MinRows = 32;

    /// <summary>Whether this CPU has AMX-BF16 (Linux: read from /proc/cpuinfo; elsewhere assumed absent).</summary>
    public static bool CpuHasAmxBf16 { get; } = DetectAmx();

    /// <summary>
    /// The dtype to run a GEMM of <paramref name="x"/> in, whose compute dtype is <paramref name="compute"/>: fp32 in
    /// place of bf16 where <see cref="FastPaths.WideBf16Gemm"/> is on and <paramref name="x"/> is a CPU tensor with
    /// enough rows; otherwise <paramref name="compute"/>.
    /// </summary>
    public static ScalarType For(Tensor x, ScalarType compute) =>
        compute == ScalarType.BFloat16 && FastPaths.WideBf16Gemm && x.device_type == DeviceType.CPU
            && x.numel() / Math.Max(1, x.shape[^1]) >= MinRows
            ? ScalarType.Float32 : compute;

    [ThreadStatic] static Tensor? scratch;

    /// <summary>
    /// <paramref name="weight"/> in <paramref name="dtype"/>: itself when it already is, else a copy in a per-thread
    /// buffer reused by every layer (no multi-MB allocation per GEMM). Valid until the next call on this thread: only
    /// for products computed at once and not recorded by autograd.
    /// </summary>
    public static Tensor Weight(Tensor weight, ScalarType dtype)
    {
        if (weight.dtype == dtype) return weight;
        if (weight.device_type != DeviceType.CPU) return weight.to(dtype);
        var view = ThreadScratch.View(ref scratch, weight.shape, dtype);
        using (no_grad()) view.copy_(weight);
        return view;
    }

    static bool DetectAmx()
    {
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64) return true; // widen only where measured: x86-64
        if (!OperatingSystem.IsLinux()) return false;
        try { return File.ReadLines("/proc/cpuinfo").Any(l => l.StartsWith("flags", StringComparison.Ordinal) && l.Contains(" amx_bf16", StringComparison.Ordinal)); }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }
}
