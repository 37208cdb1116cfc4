using System.Diagnostics;
using System.Text.Json;
using PeftSharp.Adapters.Lora;
using PeftSharp.Models.Llama;
using PeftSharp.Nn;
using PeftSharp.Nn.Quantized;
using PeftSharp.Peft;
using PeftSharp.Quantization;
using PeftSharp.Training;
using PeftSharp.Training.Optimization;
using static TorchSharp.torch;
using Linear = PeftSharp.Nn.Linear;

namespace PeftSharp.Bench.Suite;

public sealed record KernelResult(string Name, double Ms, double GBps, double Baseline);
public sealed record LossMemoryResult(string Loss, int Vocab, int Seq, double StepPeakAboveResidentMiB, double Seconds);
public sealed record SoakResult(int Steps, double PeakAtStep100MiB, double PeakAtEndMiB, double GrowthPercent,
    double TokensPerSecondEarly, double TokensPerSecondLate, int FdsAtStep100, int FdsAtEnd);
public sealed record EqualityResult(int Steps, double FinalLossFast, double FinalLossPlain, double RelativeDifference, double FirstLoss)
{
    /// <summary>‖g_fast − g_plain‖ / ‖g_plain‖ over every trainable parameter's gradient at the first step.</summary>
    public double FirstGradientRelativeDifference { get; init; }
}

/// <summary>The suite's measurements other than the training matrix: kernels, the loss step, the soak and the equality check.</summary>
public static class SideMeasurements
{
    /// <summary>NF4 + DQ dequantization to bf16 (GB/s moved, against memcpy's) and a 4-bit Linear against a bf16 one.</summary>
    public static List<KernelResult> Kernels(bool quick)
    {
        TorchRuntime.EnsureInitialized();
        int size = quick ? 1024 : 4096, runs = quick ? 3 : 9, tokens = quick ? 256 : 2048;
        var list = new List<KernelResult>();
        using var scope = NewDisposeScope();
        var w = randn(new long[] { size, size }, generator: manual_seed(0));
        using var state = BlockwiseQuantizer.Quantize(w, QuantType.Nf4, 64, doubleQuant: true);
        var output = empty(new long[] { size, size }, ScalarType.BFloat16);
        var copy = empty_like(output);
        long n = w.numel(), moved = n / 2 + state.Blocks + state.Nested!.Absmax.numel() * 4 + n * 2;
        double dequant = KernelBenchmark.MedianMs(runs, () => state.DequantizeInto(output));
        double memcpy = KernelBenchmark.MedianMs(runs, () => copy.copy_(output));
        double memcpyGBps = 2.0 * n * 2 / (memcpy / 1000) / 1e9;
        list.Add(new KernelResult($"NF4+DQ dequantize {size}x{size} -> bf16", dequant, moved / (dequant / 1000) / 1e9, memcpyGBps));
        foreach (var (inF, outF) in new[] { (896, 4864), (4864, 896) })
        {
            var x = randn(new long[] { tokens, inF }, ScalarType.BFloat16);
            double Time(Linear l, bool backward) => KernelBenchmark.MedianMs(runs, () =>
            {
                using var s = NewDisposeScope();
                if (!backward) { using var _ = no_grad(); l.forward(x); return; }
                var xi = x.detach().requires_grad_(true);
                l.forward(xi).backward(new[] { ones(tokens, outF, ScalarType.BFloat16) });
            });
            using var dense = new Linear(inF, outF, false, ScalarType.BFloat16);
            using (no_grad()) dense.weight.normal_(0, 0.02);
            dense.weight.requires_grad = false;
            using var four = new Linear(inF, outF, false, ScalarType.BFloat16);
            four.SetQuantized(FourBitWeight.Quantize(dense.weight.detach(), QuantType.Nf4, 64, true, ScalarType.BFloat16));
            foreach (bool bwd in new[] { false, true })
            {
                double d = Time(dense, bwd), q = Time(four, bwd);
                list.Add(new KernelResult($"Linear {inF}->{outF} x{tokens} {(bwd ? "fwd+bwd" : "forward")}: NF4 ms (baseline = bf16 ms)", q, 0, d));
            }
        }
        return list;
    }

    /// <summary>Working memory and time of one loss forward + backward from hidden states (child process).</summary>
    public static int LossChild(string loss, int vocab, int seq, int hidden)
    {
        TorchRuntime.EnsureInitialized();
        var head = (randn(new long[] { vocab, hidden }, ScalarType.BFloat16) * 0.02).requires_grad_(false);
        var h = (randn(new long[] { 1, seq, hidden }, ScalarType.BFloat16)).requires_grad_(true);
        var labels = randint(0, vocab, new long[] { 1, seq });
        double resident = ProcessMemory.CurrentBytes();
        File.WriteAllText("/proc/self/clear_refs", "5");
        var sw = Stopwatch.StartNew();
        using (NewDisposeScope())
        {
            var (sum, count) = loss == "chunked"
                ? ChunkedCausalLmLoss.Compute(h, head, labels)
                : CausalLmLoss.Compute(nn.functional.linear(h, head), labels);
            (sum / count).backward();
        }
        var r = new LossMemoryResult(loss, vocab, seq, (ProcessMemory.PeakBytes() - resident) / 1048576.0, sw.Elapsed.TotalSeconds);
        Console.WriteLine(JsonSerializer.Serialize(r));
        return 0;
    }

    static LlamaForCausalLM SmallLoraModel(int layers)
    {
        manual_seed(0);
        var model = new LlamaForCausalLM(SuiteShapes.Get("smollm-135m", layers), ScalarType.BFloat16);
        using (no_grad()) foreach (var (_, p) in model.named_parameters()) p.normal_(0, 0.02);
        PeftModel.Create(model, new LoraConfig { R = TrainChild.LoraRank, LoraAlpha = 2 * TrainChild.LoraRank, TargetRegex = LoraConfig.AllLinear }, seed: 1);
        return model;
    }

    /// <summary>LoRA steps on a small SmolLM-shaped model: peak memory, throughput and open files at step 100 and at the end.</summary>
    public static int SoakChild(int steps)
    {
        TorchRuntime.EnsureInitialized();
        const int seq = 256;
        var model = SmallLoraModel(2);
        var ps = model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => (p.name, p.parameter)).ToList();
        using var opt = new AdamWOptimizer(ps, new AdamWOptions { LearningRate = 1e-4 });
        var ids = randint(0, model.Config.VocabSize, new long[] { 1, seq }, generator: manual_seed(3));
        double peak100 = 0, early = 0, late = 0;
        int fds100 = 0;
        var sw = Stopwatch.StartNew();
        for (int s = 1; s <= steps; s++)
        {
            using (NewDisposeScope())
            {
                var (sum, n) = ChunkedCausalLmLoss.Compute(model.model.Forward(ids), model.lm_head.weight, ids);
                (sum / n).backward();
                opt.Step();
                opt.ZeroGrad();
            }
            if (s == 100) { peak100 = ProcessMemory.PeakBytes(); fds100 = Directory.GetFiles("/proc/self/fd").Length; }
            if (s == 200) early = 100.0 * seq / sw.Elapsed.TotalSeconds;
            if (s == 100 || s == 200 || s == steps - 100) sw.Restart();
        }
        late = 100.0 * seq / sw.Elapsed.TotalSeconds;
        double end = ProcessMemory.PeakBytes();
        var r = new SoakResult(steps, peak100 / 1048576.0, end / 1048576.0, 100 * (end - peak100) / peak100, early, late, fds100, Directory.GetFiles("/proc/self/fd").Length);
        Console.WriteLine(JsonSerializer.Serialize(r));
        return 0;
    }

    /// <summary>
    /// The same LoRA run of <paramref name="steps"/> AdamW steps on one fixed batch, with every fast path (fused LoRA,
    /// RMSNorm, SwiGLU, rotary, chunked loss) and with none; the final losses must agree, and the first step's gradients
    /// (every trainable parameter's, as one vector) are compared too: a wrong backward shows there before AdamW's
    /// normalised updates can hide it in the loss.
    /// </summary>
    public static EqualityResult Equality(int steps, int layers, int seq)
    {
        TorchRuntime.EnsureInitialized();
        double Train(bool fast, out double first, out Tensor firstGradient)
        {
            using var _ = FastPaths.All(fast);
            var model = SmallLoraModel(layers);
            var ps = model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => (p.name, p.parameter)).ToList();
            using var opt = new AdamWOptimizer(ps, new AdamWOptions { LearningRate = 1e-3 });
            var ids = randint(0, model.Config.VocabSize, new long[] { 2, seq }, generator: manual_seed(5));
            double loss = 0;
            first = 0;
            firstGradient = null!; // set at step 0
            for (int s = 0; s < steps; s++)
            {
                using var scope = NewDisposeScope();
                var (sum, n) = fast
                    ? ChunkedCausalLmLoss.Compute(model.model.Forward(ids), model.lm_head.weight, ids)
                    : CausalLmLoss.Compute(model.Forward(ids), ids);
                var l = sum / n;
                loss = l.item<float>();
                if (s == 0) first = loss;
                l.backward();
                if (s == 0) firstGradient = cat(ps.Select(p => p.parameter.grad!.flatten().to(ScalarType.Float64)).ToArray()).MoveToOuterDisposeScope();
                opt.Step();
                opt.ZeroGrad();
            }
            model.Dispose();
            return loss;
        }
        double fastLoss = Train(true, out var first, out var gFast), plain = Train(false, out _, out var gPlain);
        using (gFast)
        using (gPlain)
            return new EqualityResult(steps, fastLoss, plain, Math.Abs(fastLoss - plain) / Math.Abs(plain), first)
            {
                FirstGradientRelativeDifference = (gFast - gPlain).norm().item<double>() / gPlain.norm().item<double>(),
            };
    }
}
