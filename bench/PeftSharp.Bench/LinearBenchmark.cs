using System.Diagnostics;
using System.Globalization;
using PeftSharp.Nn.Quantized;
using PeftSharp.Quantization;
using static TorchSharp.torch;
using Linear = PeftSharp.Nn.Linear;

namespace PeftSharp.Bench;

/// <summary>
/// A Linear's forward, and forward + input-gradient backward (what LoRA training on a frozen base runs), at
/// batch x seq = <c>tokens</c>, for a bf16 weight vs the same weight in NF4 (+DQ, bf16 compute) and LLM.int8.
/// Shapes: Qwen2.5-0.5B's MLP up-projection (896 -> 4864) and a 4096 x 4096 projection (7B-class hidden size).
/// </summary>
public static class LinearBenchmark
{
    public static int Run(int tokens, int runs)
    {
        TorchRuntime.EnsureInitialized();
        Console.WriteLine($"| shape (in -> out) | weight | forward ms | forward + backward ms | vs bf16 forward |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var (inF, outF) in new[] { (896, 4864), (4096, 4096) })
        {
            using var dense = new Linear(inF, outF, false, ScalarType.BFloat16);
            using (no_grad()) dense.weight.normal_(0, 0.02);
            using var x = randn(new long[] { tokens, inF }, ScalarType.BFloat16);
            double baseline = 0;
            foreach (var kind in new[] { "bf16", "nf4+dq", "int8" })
            {
                using var layer = new Linear(inF, outF, false, ScalarType.BFloat16);
                using (no_grad()) layer.weight.copy_(dense.weight);
                if (kind == "nf4+dq") layer.SetQuantized(FourBitWeight.Quantize(dense.weight.detach(), QuantType.Nf4, 64, true, ScalarType.BFloat16));
                if (kind == "int8") layer.SetQuantized(new EightBitWeight(Int8Quantizer.Quantize(dense.weight.detach()), Int8Quantizer.DefaultThreshold));
                layer.weight.requires_grad = false;
                double fwd = KernelBenchmark.MedianMs(runs, () =>
                {
                    using var _ = no_grad();
                    using var scope = NewDisposeScope();
                    layer.forward(x);
                });
                double both = KernelBenchmark.MedianMs(runs, () =>
                {
                    using var scope = NewDisposeScope();
                    var xi = x.detach().requires_grad_(true);
                    layer.forward(xi).sum().backward();
                });
                if (kind == "bf16") baseline = fwd;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {inF} -> {outF} | {kind} | {fwd:F1} | {both:F1} | {fwd / baseline:F2}x |"));
            }
        }
        return 0;
    }
}
