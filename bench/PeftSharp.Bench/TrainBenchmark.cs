using System.Diagnostics;
using System.Globalization;
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

namespace PeftSharp.Bench;

/// <summary>
/// Training throughput and peak memory on a SmolLM-135M-shaped random model: full fine-tuning, LoRA (r 16, all linear)
/// and QLoRA (NF4 + DQ), with and without activation checkpointing. Each configuration runs in its own process so its
/// VmHWM is its own; tokens/s is the median of the timed steps after a warm-up step.
/// </summary>
public static class TrainBenchmark
{
    public static readonly string[] Modes = { "full", "lora", "qlora" };

    public sealed record Result(string Mode, bool Checkpointing, int Layers, int Seq, int Batch, double StepSeconds, double TokensPerSecond, double PeakMiB, long Trainable, bool ChunkedLoss = false);

    public static LlamaConfig SmolLm135M(int layers) => new()
    {
        ModelType = "llama", VocabSize = 49152, HiddenSize = 576, IntermediateSize = 1536, NumHiddenLayers = layers,
        NumAttentionHeads = 9, NumKeyValueHeads = 3, HeadDim = 64, MaxPositionEmbeddings = 8192, RmsNormEps = 1e-5,
        RopeTheta = 10000, TieWordEmbeddings = true,
    };

    public static int Run(int layers, int seq, int batch, int steps, string jsonOut, IReadOnlyList<string>? modes = null, bool chunkedLoss = false)
    {
        var results = new List<Result>();
        foreach (var mode in modes ?? Modes)
            foreach (var ckpt in new[] { false, true })
            {
                var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
                if (Environment.ProcessPath!.EndsWith("dotnet", StringComparison.Ordinal)) psi.ArgumentList.Add(typeof(TrainBenchmark).Assembly.Location);
                foreach (var a in new[] { "train-child", mode, ckpt ? "1" : "0", $"{layers}", $"{seq}", $"{batch}", $"{steps}", chunkedLoss ? "1" : "0" }) psi.ArgumentList.Add(a);
                psi.Environment["MALLOC_MMAP_THRESHOLD_"] = "65536";
                using var p = Process.Start(psi)!;
                var line = p.StandardOutput.ReadToEnd().Trim().Split('\n')[^1];
                p.WaitForExit();
                if (p.ExitCode != 0) throw new InvalidOperationException($"train-child {mode} failed: {line}");
                var r = JsonSerializer.Deserialize<Result>(line)!;
                results.Add(r);
                Console.Error.WriteLine($"{mode} checkpointing={ckpt}: {r.TokensPerSecond:F0} tok/s, peak {r.PeakMiB:F0} MiB");
            }
        Console.WriteLine($"SmolLM-135M shape, {layers} layers, seq {seq}, micro-batch {batch}, bf16 compute, AdamW, {(chunkedLoss ? "chunked" : "full-logits")} loss:");
        Console.WriteLine("| mode | activation checkpointing | step (s) | tokens/s | peak RSS (MiB) | trainable parameters |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var r in results)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Mode} | {(r.Checkpointing ? "on" : "off")} | {r.StepSeconds:F2} | {r.TokensPerSecond:F0} | {r.PeakMiB:F0} | {r.Trainable:N0} |"));
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(jsonOut))!);
        File.WriteAllText(jsonOut, JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
        return 0;
    }

    public static int Child(string mode, bool checkpointing, int layers, int seq, int batch, int steps, bool chunkedLoss)
    {
        TorchRuntime.EnsureInitialized();
        manual_seed(0);
        var model = new LlamaForCausalLM(SmolLm135M(layers), ScalarType.BFloat16);
        using (no_grad())
            foreach (var (_, p) in model.named_parameters()) p.normal_(0, 0.02);
        if (mode == "qlora")
            foreach (var (name, m) in model.named_modules())
                if (m is Linear l && name != "lm_head")
                    l.SetQuantized(FourBitWeight.Quantize(l.weight.detach(), QuantType.Nf4, 64, true, ScalarType.BFloat16));
        if (mode != "full")
            PeftModel.Create(model, new LoraConfig { R = 16, LoraAlpha = 32, TargetRegex = LoraConfig.AllLinear }, seed: 1);
        model.model.GradientCheckpointing = checkpointing;
        var parameters = model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => (p.name, p.parameter)).ToList();
        using var optimizer = new AdamWOptimizer(parameters, new AdamWOptions { LearningRate = 1e-4 });
        var ids = randint(0, 49152, new long[] { batch, seq });
        var times = new List<double>();
        for (int s = 0; s <= steps; s++)
        {
            var w = Stopwatch.StartNew();
            using (var scope = NewDisposeScope())
            {
                var (sum, n) = chunkedLoss
                    ? ChunkedCausalLmLoss.Compute(model.model.Forward(ids), model.lm_head.weight, ids)
                    : CausalLmLoss.Compute(model.Forward(ids), ids);
                (sum / n).backward();
                optimizer.Step();
                optimizer.ZeroGrad();
            }
            if (s > 0) times.Add(w.Elapsed.TotalSeconds); // the first step warms up
        }
        times.Sort();
        double step = times[times.Count / 2];
        var r = new Result(mode, checkpointing, layers, seq, batch, step, batch * seq / step, ProcessMemory.PeakBytes() / 1048576.0, parameters.Sum(p => p.parameter.numel()), chunkedLoss);
        Console.WriteLine(JsonSerializer.Serialize(r));
        return 0;
    }
}
