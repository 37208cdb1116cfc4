using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using PeftSharp.Adapters.Lora;
using PeftSharp.Models.Llama;
using PeftSharp.Peft;
using PeftSharp.Training;
using static TorchSharp.torch;

namespace PeftSharp.Bench.Reliability;

/// <summary>
/// The long-run soak: the real Trainer (LoRA, AdamW, evaluation, checkpoints with rotation, metrics.jsonl and
/// TensorBoard) for thousands of steps on a small random Llama, sampling resident memory, peak memory, throughput,
/// open file descriptors and threads every 100 steps. Memory, throughput and handles must stay flat.
///   dotnet run -c Release --project bench/PeftSharp.Bench -- soak [--steps 5000] [--out bench/out/soak]
/// </summary>
public static class TrainerSoak
{
    public sealed record Sample(int Step, double Seconds, double RssMiB, double PeakMiB, double TokensPerSecond, int OpenFiles, int Threads);

    public sealed record Summary(int Steps, double Minutes, double RssAtStep500MiB, double RssAtEndMiB, double PeakAtStep500MiB, double PeakAtEndMiB,
        double TokensPerSecondEarly, double TokensPerSecondLate, int OpenFilesAtStep500, int OpenFilesAtEnd, int ThreadsAtStep500, int ThreadsAtEnd,
        int OpenFilesAtMiddle, int ThreadsAtMiddle, int Checkpoints, bool Flat);

    const int Seq = 128, Batch = 2, Window = 100;

    /// <summary>Random token batches, the same each epoch (shape is all the soak needs).</summary>
    sealed class RandomBatches(int vocab, int count, int seed) : IBatchSource
    {
        public int BatchesPerEpoch => count;

        public IEnumerable<TrainingBatch> Epoch(int epoch)
        {
            var rng = new Random(seed);
            for (int i = 0; i < count; i++)
            {
                var ids = Enumerable.Range(0, Batch * Seq).Select(_ => (long)rng.Next(vocab)).ToArray();
                var t = tensor(ids).view(Batch, Seq);
                yield return new TrainingBatch(t, t.clone());
            }
        }
    }

    public static int Run(int steps, string outDir)
    {
        TorchRuntime.EnsureInitialized();
        if (Directory.Exists(outDir)) Directory.Delete(outDir, true);
        var config = new LlamaConfig
        {
            ModelType = "llama", VocabSize = 2048, HiddenSize = 128, IntermediateSize = 344, NumHiddenLayers = 2,
            NumAttentionHeads = 4, NumKeyValueHeads = 2, HeadDim = 32, MaxPositionEmbeddings = 512, RmsNormEps = 1e-5, RopeTheta = 10000,
        };
        manual_seed(0);
        var model = new LlamaForCausalLM(config, ScalarType.Float32);
        using (no_grad()) foreach (var (_, p) in model.named_parameters()) p.normal_(0, 0.02);
        var peft = PeftModel.Create(model, new LoraConfig { R = 16, LoraAlpha = 32, LoraDropout = 0.05, TargetRegex = LoraConfig.AllLinear }, seed: 1);
        var options = new TrainerOptions
        {
            OutputDir = Path.Combine(outDir, "run"), MaxSteps = steps, LearningRate = 2e-4, LoggingSteps = 10, EvalSteps = 500, SaveSteps = 250,
            SaveTotalLimit = 2, TensorBoard = true, WarmupSteps = 50,
        };
        var samples = new List<Sample>();
        string[] fdsAt500 = [];
        var watch = Stopwatch.StartNew();
        double windowStart = 0;
        var trainer = new Trainer(options, model, peft, new RandomBatches(config.VocabSize, 64, 1), new RandomBatches(config.VocabSize, 4, 2), TextWriter.Null)
        {
            Progress = p =>
            {
                if (p.Step % Window != 0) return;
                double now = watch.Elapsed.TotalSeconds;
                var s = new Sample(p.Step, now, ProcessMemory.CurrentBytes() / 1048576.0, ProcessMemory.PeakBytes() / 1048576.0,
                    Window * Batch * Seq / (now - windowStart), OpenFileTargets().Count(t => !IsLibrary(t)), Process.GetCurrentProcess().Threads.Count);
                windowStart = now;
                samples.Add(s);
                if (p.Step == 500) fdsAt500 = OpenFileTargets();
                if (p.Step % 1000 == 0) Console.WriteLine($"step {s.Step}: rss {s.RssMiB:F0} MiB, peak {s.PeakMiB:F0} MiB, {s.TokensPerSecond:F0} tok/s, {s.OpenFiles} fds, {s.Threads} threads");
            },
        };
        var result = trainer.Run();
        var summary = Summarize(samples, steps, watch.Elapsed.TotalMinutes, new CheckpointStore(options.OutputDir, 2).List().Count);
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "soak.json"), JsonSerializer.Serialize(new { summary, samples }, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine(Markdown(summary));
        var opened = OpenFileTargets().Except(fdsAt500).ToList();
        if (opened.Count > 0) Console.WriteLine("opened after step 500 and still open (libraries loaded late are not counted as open files): " + string.Join(", ", opened));
        return result.Steps == steps && summary.Flat ? 0 : 1;
    }

    // An assembly or native library mapped once on first use (ScottPlot for the loss plot, ...) is not a leak.
    static bool IsLibrary(string target) => target.EndsWith(".dll", StringComparison.Ordinal) || target.EndsWith(".so", StringComparison.Ordinal) || target.Contains(".so.", StringComparison.Ordinal);

    static string[] OpenFileTargets() =>
        Directory.GetFiles("/proc/self/fd").Select(f => { try { return new FileInfo(f).LinkTarget ?? "?"; } catch (IOException) { return "?"; } }).Order().ToArray();

    /// <summary>
    /// Early = the windows from step 500 to 1000 (warm-up, first checkpoints and evaluations done); late = the last 500
    /// steps. Memory is compared with step 500; open files and threads with the middle of the run, since the runtime
    /// starts a pool thread (and its pipe) on its own schedule early in a run.
    /// </summary>
    static Summary Summarize(List<Sample> s, int steps, double minutes, int checkpoints)
    {
        var early = s.Where(x => x.Step > 500 && x.Step <= 1000).ToList();
        var late = s.Where(x => x.Step > steps - 500).ToList();
        var at500 = s.First(x => x.Step >= Math.Min(500, steps));
        var end = s[^1];
        var middle = s.First(x => x.Step >= steps / 2);
        double Median(IEnumerable<double> v) { var a = v.OrderBy(x => x).ToArray(); return a.Length == 0 ? 0 : a[a.Length / 2]; }
        double tEarly = Median(early.Select(x => x.TokensPerSecond)), tLate = Median(late.Select(x => x.TokensPerSecond));
        bool flat = end.PeakMiB <= at500.PeakMiB * 1.01 && end.RssMiB <= at500.RssMiB * 1.05
            && tLate >= 0.9 * tEarly && end.OpenFiles <= middle.OpenFiles && end.Threads <= middle.Threads + 1;
        return new Summary(steps, minutes, at500.RssMiB, end.RssMiB, at500.PeakMiB, end.PeakMiB, tEarly, tLate, at500.OpenFiles, end.OpenFiles,
            at500.Threads, end.Threads, middle.OpenFiles, middle.Threads, checkpoints, flat);
    }

    static string Markdown(Summary r) => string.Create(CultureInfo.InvariantCulture, $"""
        | soak: {r.Steps} Trainer steps (LoRA r16, seq {Seq} x {Batch}, eval every 500, checkpoint every 250), {r.Minutes:F1} min | step 500 | end |
        |---|---|---|
        | resident memory (MiB) | {r.RssAtStep500MiB:F0} | {r.RssAtEndMiB:F0} ({100 * (r.RssAtEndMiB / r.RssAtStep500MiB - 1):+0.0;-0.0}%) |
        | peak memory (MiB) | {r.PeakAtStep500MiB:F0} | {r.PeakAtEndMiB:F0} ({100 * (r.PeakAtEndMiB / r.PeakAtStep500MiB - 1):+0.00;-0.00}%) |
        | tokens/s (median of 100-step windows, steps 500-1000 vs last 500) | {r.TokensPerSecondEarly:F0} | {r.TokensPerSecondLate:F0} ({100 * (r.TokensPerSecondLate / r.TokensPerSecondEarly - 1):+0.0;-0.0}%) |
        | open file descriptors, libraries excluded (middle of the run: {r.OpenFilesAtMiddle}) | {r.OpenFilesAtStep500} | {r.OpenFilesAtEnd} |
        | threads (middle of the run: {r.ThreadsAtMiddle}) | {r.ThreadsAtStep500} | {r.ThreadsAtEnd} |

        flat (peak +<1% and resident +<5% after step 500, tokens/s -<10%, no fd or thread growth over the second half): {(r.Flat ? "yes" : "NO")}
        """);
}
