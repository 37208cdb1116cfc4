using System.Diagnostics;
using System.Text.Json;
using PeftSharp.Adapters.Lora;
using PeftSharp.Bench.Reference;
using PeftSharp.Models;
using PeftSharp.Models.Llama;
using PeftSharp.Nn;
using PeftSharp.Nn.Quantized;
using PeftSharp.Peft;
using PeftSharp.Training;
using PeftSharp.Training.Optimization;
using static TorchSharp.torch;

namespace PeftSharp.Bench.Suite;

/// <summary>One suite configuration, run in a process of its own so its peak memory is its own.</summary>
public sealed record TrainCase(string Shape, int Layers, string Mode, int Seq, int Batch, bool Checkpointing, int Steps, bool FastPaths = true)
{
    public string Label => $"{Shape}/{Layers}L {Mode} seq{Seq} mb{Batch}{(Checkpointing ? " ckpt" : "")}{(FastPaths ? "" : " no-fast-paths")}";
}

/// <summary>What one configuration measured.</summary>
public sealed record TrainResult(TrainCase Case, double StepSeconds, double TokensPerSecond, double PeakMiB, double ResidentBeforeStepsMiB,
    double StepPeakAboveResidentMiB, long Trainable, double FlopsPerToken, double FirstLoss, double LastLoss)
{
    /// <summary>The step time of the memory run (MALLOC_MMAP_THRESHOLD_=65536), beside the speed run's <see cref="StepSeconds"/>.</summary>
    public double StepSecondsReturningMemory { get; init; }
    /// <summary>VmHWM of the speed run (glibc's default allocator, which keeps freed blocks cached).</summary>
    public double PeakMiBDefaultAllocator { get; init; }

    public double Mfu(double matmulGflops) => TokensPerSecond * FlopsPerToken / (matmulGflops * 1e9);
}

/// <summary>
/// The child side: load the suite's random checkpoint as a user would (memory-mapped bf16; NF4 + DQ quantized on
/// load for QLoRA), attach LoRA r 16 to all linears, and time training steps. The reference mode runs the same
/// LoRA model through <see cref="ReferenceLoraStep"/> instead of the library's forward and loss.
/// </summary>
public static class TrainChild
{
    public const int LoraRank = 16;

    /// <summary>VmHWM before <see cref="ResetPeak"/> (model loading), so the reported peak covers the whole run.</summary>
    static double initialPeak;

    public static int Run(string caseJson, string checkpointDir)
    {
        var tc = JsonSerializer.Deserialize<TrainCase>(caseJson)!;
        TorchRuntime.EnsureInitialized();
        FastPaths.All(tc.FastPaths);
        var quantization = tc.Mode == "qlora"
            ? new QuantizationConfig { LoadIn4Bit = true, Bnb4BitQuantType = "nf4", Bnb4BitUseDoubleQuant = true, Bnb4BitComputeDtype = "bfloat16" }
            : null;
        using var loaded = PretrainedCausalLM.Load(checkpointDir, new ModelLoadOptions { DType = "bfloat16", Quantization = quantization, MemoryMapped = tc.Mode != "full" });
        var model = loaded.Model;
        if (tc.Mode != "full")
            PeftModel.Create(model, new LoraConfig { R = LoraRank, LoraAlpha = 2 * LoraRank, TargetRegex = LoraConfig.AllLinear }, seed: 1);
        model.model.GradientCheckpointing = tc.Checkpointing;
        var parameters = model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => (p.name, p.parameter)).ToList();
        using var optimizer = new AdamWOptimizer(parameters, new AdamWOptions { LearningRate = 1e-4 });
        var ids = randint(0, model.Config.VocabSize, new long[] { tc.Batch, tc.Seq }, generator: manual_seed(7));
        var times = new List<double>();
        var losses = new List<double>();
        double residentBefore = 0;
        for (int s = 0; s <= tc.Steps; s++)
        {
            if (s == 1)
            {
                // After the warm-up step everything persistent exists (optimizer state, grads): reset the peak so the
                // timed steps' peak above this level is the step's own working memory (activations, loss, backward).
                residentBefore = ProcessMemory.CurrentBytes();
                ResetPeak();
            }
            var w = Stopwatch.StartNew();
            using (NewDisposeScope())
            {
                var loss = Loss(tc.Mode, model, ids);
                losses.Add(loss.item<float>());
                loss.backward();
                optimizer.Step();
                optimizer.ZeroGrad();
            }
            if (s > 0) times.Add(w.Elapsed.TotalSeconds);
        }
        times.Sort();
        double step = times[times.Count / 2];
        double stepPeak = ProcessMemory.PeakBytes();
        var result = new TrainResult(tc, step, tc.Batch * tc.Seq / step, Math.Max(stepPeak, initialPeak) / 1048576.0, residentBefore / 1048576.0,
            (stepPeak - residentBefore) / 1048576.0, parameters.Sum(p => p.parameter.numel()),
            ModelFlops.PerToken(model.Config, tc.Mode, tc.Seq, LoraRank), losses[0], losses[^1]);
        Console.WriteLine(JsonSerializer.Serialize(result));
        return 0;
    }

    static Tensor Loss(string mode, LlamaForCausalLM model, Tensor ids)
    {
        if (mode == "reference") return ReferenceLoraStep.Loss(model, ids);
        var (sum, n) = ChunkedCausalLmLoss.Compute(model.model.Forward(ids), model.lm_head.weight, ids);
        return sum / n;
    }

    /// <summary>Resets VmHWM (Linux: "5" to /proc/self/clear_refs), remembering the peak so far.</summary>
    static void ResetPeak()
    {
        initialPeak = ProcessMemory.PeakBytes();
        try { File.WriteAllText("/proc/self/clear_refs", "5"); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
