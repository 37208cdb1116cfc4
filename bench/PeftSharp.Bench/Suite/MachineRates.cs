using static TorchSharp.torch;

namespace PeftSharp.Bench.Suite;

/// <summary>
/// What this machine can do, measured in the same run as the training figures: the bf16 matmul rate (the MFU
/// denominator) and memcpy bandwidth (the yardstick for memory-bound kernels).
/// </summary>
public static class MachineRates
{
    /// <summary>
    /// Best bf16 GFLOP/s over matmuls of the shapes transformer training runs ([tokens, in] x [in, out], both
    /// orientations backward uses), median of <paramref name="runs"/> each.
    /// </summary>
    public static double Bf16MatmulGflops(int runs = 5) => MatmulGflops(ScalarType.BFloat16, runs);

    /// <summary>
    /// Best GFLOP/s of <paramref name="dtype"/> matmuls over the same shapes as <see cref="Bf16MatmulGflops"/>: on a
    /// CPU without AMX, libtorch's bf16 GEMM can be slower than its fp32 one, which decides the compute dtype to train in.
    /// </summary>
    public static double MatmulGflops(ScalarType dtype, int runs = 5)
    {
        TorchRuntime.EnsureInitialized();
        double best = 0;
        foreach (var (m, k, n) in new[] { (2048L, 2048L, 2048L), (2048L, 896L, 4864L), (2048L, 4864L, 896L), (2048L, 576L, 1536L) })
        {
            using var scope = NewDisposeScope();
            var a = randn(new long[] { m, k }, dtype);
            var b = randn(new long[] { k, n }, dtype);
            var w = b.t().contiguous(); // [out, in]: how Linear layers store their weights
            double ms = Math.Min(
                KernelBenchmark.MedianMs(runs, () => { using var s = NewDisposeScope(); a.matmul(b); }, warmup: 2),
                KernelBenchmark.MedianMs(runs, () => { using var s = NewDisposeScope(); nn.functional.linear(a, w); }, warmup: 2));
            double rate = 2.0 * m * k * n / (ms / 1000) / 1e9;
            if (Environment.GetEnvironmentVariable("PEFTSHARP_BENCH_VERBOSE") == "1") Console.Error.WriteLine($"{dtype} matmul {m}x{k}x{n}: {rate:F0} GFLOP/s");
            best = Math.Max(best, rate);
        }
        return best;
    }

    /// <summary>memcpy GB/s (read + write) over a 256 MiB buffer.</summary>
    public static double MemcpyGBps(int runs = 5)
    {
        using var scope = NewDisposeScope();
        var src = randn(new long[] { 64L << 20 });
        var dst = empty_like(src);
        double ms = KernelBenchmark.MedianMs(runs, () => dst.copy_(src), warmup: 2);
        return 2.0 * src.numel() * 4 / (ms / 1000) / 1e9;
    }
}
