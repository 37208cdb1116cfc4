using System.Diagnostics;
using System.Globalization;
using PeftSharp.Quantization;
using static TorchSharp.torch;

namespace PeftSharp.Bench;

/// <summary>
/// Quantization kernels: NF4 dequantization of a 4096x4096 weight (fp32/bf16 out, DQ on/off) by the SIMD kernel
/// (into a preallocated tensor) vs the torch-ops reference vs a memcpy of the same output size; NF4 quantization
/// time; LLM.int8 matmul vs fp32 matmul.
/// </summary>
public static class KernelBenchmark
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    internal static double MedianMs(int runs, Action body, int warmup = 3)
    {
        for (int i = 0; i < warmup; i++) body();
        var times = new List<double>();
        for (int i = 0; i < runs; i++)
        {
            var sw = Stopwatch.StartNew();
            body();
            times.Add(sw.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        return times[times.Count / 2];
    }

    public static int Run(int size, int runs, int tokens, int matmulRuns)
    {
        TorchRuntime.EnsureInitialized();
        Console.WriteLine($"threads: torch {TorchRuntime.Threads}, .NET {Environment.ProcessorCount}; kernel ISA {KernelIsas.Best}");
        using var scope = NewDisposeScope();
        var w = randn(new long[] { size, size }, generator: manual_seed(0));
        long n = w.numel();

        double quantMs = MedianMs(Math.Max(3, runs / 3), () => BlockwiseQuantizer.Quantize(w, QuantType.Nf4, 64, doubleQuant: true).Dispose(), warmup: 1);
        Console.WriteLine(string.Create(Inv, $"NF4 quantize {size}x{size} (blocksize 64, DQ): {quantMs:F1} ms"));
        Console.WriteLine();
        Console.WriteLine($"NF4 dequantization of {size}x{size}, blocksize 64, median of {runs} runs after warm-up");
        Console.WriteLine("| DQ | out | kernel ms | kernel GB/s | torch-ops ms | speed-up | memcpy ms (same output) | memcpy GB/s |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (bool dq in new[] { false, true })
        {
            using var state = BlockwiseQuantizer.Quantize(w, QuantType.Nf4, 64, dq);
            long readBytes = n / 2 + (dq ? state.Blocks + state.Nested!.Absmax.numel() * 4 : state.Blocks * 4);
            foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
            {
                using var output = empty(new long[] { size, size }, dtype);
                using var copy = empty(new long[] { size, size }, dtype);
                long written = n * (dtype == ScalarType.Float32 ? 4 : 2);
                double kernel = MedianMs(runs, () => state.DequantizeInto(output));
                double reference = MedianMs(runs, () =>
                {
                    using var s = NewDisposeScope();
                    TorchReferenceDequant.Dequantize(state, dtype);
                });
                double memcpy = MedianMs(runs, () => copy.copy_(output));
                double gbps = (readBytes + written) / (kernel / 1000) / 1e9;
                double copyGbps = 2.0 * written / (memcpy / 1000) / 1e9; // read + write
                Console.WriteLine(string.Create(Inv,
                    $"| {(dq ? "on" : "off")} | {(dtype == ScalarType.Float32 ? "fp32" : "bf16")} | {kernel:F2} | {gbps:F1} | {reference:F1} | {reference / kernel:F1}x | {memcpy:F2} | {copyGbps:F1} |"));
            }
        }

        Console.WriteLine();
        Console.WriteLine($"LLM.int8 matmul, x [{tokens}, {size}] @ W^T [{size}, {size}], median of {matmulRuns} runs");
        var x = randn(new long[] { tokens, size }, generator: manual_seed(1));
        using var q = Int8Quantizer.Quantize(w);
        double fp32 = MedianMs(matmulRuns, () => { using var s = NewDisposeScope(); x.matmul(w.t()); }, warmup: 1);
        double int8 = MedianMs(matmulRuns, () => { using var s = NewDisposeScope(); Int8Quantizer.Int8Matmul(x, q, 0); }, warmup: 1);
        x[0, 5] = 30; x[1, 77] = -40; x[2, 900] = 25; // three outlier columns
        double int8Outliers = MedianMs(matmulRuns, () => { using var s = NewDisposeScope(); Int8Quantizer.Int8Matmul(x, q, 6.0); }, warmup: 1);
        Console.WriteLine("| path | ms | vs fp32 |");
        Console.WriteLine("|---|---|---|");
        Console.WriteLine(string.Create(Inv, $"| fp32 matmul | {fp32:F1} | 1.00x |"));
        Console.WriteLine(string.Create(Inv, $"| int8 (threshold 0) | {int8:F1} | {int8 / fp32:F2}x |"));
        Console.WriteLine(string.Create(Inv, $"| int8 + 3 outlier columns (threshold 6) | {int8Outliers:F1} | {int8Outliers / fp32:F2}x |"));
        return 0;
    }
}
