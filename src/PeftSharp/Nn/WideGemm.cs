using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Nn;

/// <summary>
/// bf16 GEMMs run as fp32 GEMMs on CPUs whose bf16 GEMM is the slower one. Which one is faster depends on the CPU and
/// cannot be read from its flags: on this project's Xeons, bf16 ran at 167 GFLOP/s against 330 in fp32 without AMX and
/// at 830-890 with it; on an AMD EPYC with AVX-512 BF16 (no AMX) bf16 ran at 426 against 195 in fp32. So the choice is
/// measured once per process (<see cref="MeasuredFaster"/>). Widening bf16 operands to fp32 is exact, and fp32
/// accumulation is what a bf16 GEMM does anyway, so the product differs only in summation order; the result is rounded
/// back to bf16 once. Only products with at least <see cref="MinRows"/> rows are widened (token-by-token decoding is
/// bound by reading the weights, which widening doubles).
/// </summary>
public static class WideGemm
{
    /// <summary>Fewer rows than this keep the compute dtype.</summary>
    public const int MinRows = 32;

    /// <summary>
    /// Whether widening paid on this CPU: a GEMM at a LoRA-training shape, timed once (about 50 ms, at first use) as bf16
    /// and as widen + fp32 + round back; true where the widened one took at most <see cref="RequiredSpeedup"/> of the time.
    /// Only on x86-64 CPUs (elsewhere false: not measured by this project).
    /// </summary>
    public static bool MeasuredFaster => Measurement is var (bf16Ms, widenedMs) && widenedMs > 0 && widenedMs <= RequiredSpeedup * bf16Ms;

    /// <summary>The bf16 and widened times of that measurement, in milliseconds (0, 0 where none was taken).</summary>
    public static (double Bf16Ms, double WidenedMs) Measurement => measurement.Value;

    /// <summary>Widen only when it takes at most this fraction of bf16's time: a near tie keeps bf16 (half the bytes).</summary>
    public const double RequiredSpeedup = 0.85;

    static readonly Lazy<(double Bf16Ms, double WidenedMs)> measurement =
        new(() => RuntimeInformation.ProcessArchitecture == Architecture.X64 ? Probe() : (0, 0));

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

    /// <summary>
    /// Times a [512, 576] x [576, 1536] product (SmolLM's MLP at one sequence) in bf16 and widened, best of three runs
    /// after a warm-up each, in milliseconds: what <see cref="MeasuredFaster"/> decides from. Leaves the RNG untouched.
    /// </summary>
    public static (double Bf16Ms, double WidenedMs) Probe()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        // Constant operands: drawing random ones would move the global RNG, so dropout masks would depend on when the
        // probe ran. The values do not change a GEMM's speed.
        var x = full(new long[] { 512, 576 }, 0.5, ScalarType.BFloat16);
        var w = full(new long[] { 1536, 576 }, 0.25, ScalarType.BFloat16);
        double bf16 = BestOf(() => nn.functional.linear(x, w));
        double wide = BestOf(() => nn.functional.linear(x.to(ScalarType.Float32), w.to(ScalarType.Float32)).to(ScalarType.BFloat16));
        return (bf16, wide);
    }

    static double BestOf(Func<Tensor> gemm)
    {
        double best = double.MaxValue;
        for (int i = 0; i < 4; i++) // the first run warms libtorch's kernels and pages
        {
            var sw = System.Diagnostics.Stopwatch.StartNew();
            using (gemm()) { }
            if (i > 0) best = Math.Min(best, sw.Elapsed.TotalMilliseconds);
        }
        return best;
    }
}
