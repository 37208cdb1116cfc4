using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace PeftSharp.Bench.Compare;

/// <summary>One method in the comparison: a label and the CLI overrides that select and configure it.</summary>
public sealed record MethodRun(string Slug, string Label, string[] Overrides);

/// <summary>What one run measured, read back from the CLI's output and metrics.jsonl.</summary>
public sealed record MethodResult(string Slug, string Label, string LearningRate, long TrainableParameters, long AdapterBytes,
    double EvalPerplexityBefore, double EvalPerplexityAfter, double TokensPerSecond, double PeakMiB, double Seconds, string Note);

/// <summary>
/// `bench compare`: every adapter method fine-tunes stories260K on tinyshakespeare with the same data, steps and
/// schedule (examples/compare/shakespeare.yaml), each through the real CLI in its own process, and the results land in
/// one markdown table: trainable parameters, saved size, eval perplexity, tokens/s and peak memory (VmHWM). "start" is
/// the model with the untrained adapter: the base for methods that start as the identity, random virtual tokens for
/// prompt and prefix tuning.
/// </summary>
public static class MethodComparison
{
    /// <summary>
    /// The methods and their usual settings. Learning rates follow each method's common practice on a model this size
    /// (vectors and virtual tokens need a larger one than low-rank matrices; full fine-tuning a smaller one).
    /// </summary>
    public static readonly MethodRun[] Methods =
    {
        new("full", "full fine-tuning", new[] { "--adapter=full", "--learning_rate=1e-3" }),
        new("lora-r2", "LoRA r=2", new[] { "--adapter=lora", "--lora.r=2", "--lora.lora_alpha=4", "--lora.target_modules=all-linear" }),
        new("lora-r8", "LoRA r=8", new[] { "--adapter=lora", "--lora.r=8", "--lora.lora_alpha=16", "--lora.target_modules=all-linear" }),
        new("lora-r16", "LoRA r=16", new[] { "--adapter=lora", "--lora.r=16", "--lora.lora_alpha=32", "--lora.target_modules=all-linear" }),
        new("dora-r8", "DoRA r=8", new[] { "--adapter=dora", "--lora.r=8", "--lora.lora_alpha=16", "--lora.target_modules=all-linear" }),
        new("adalora", "AdaLoRA r 12→8", new[] { "--adapter=adalora", "--adalora.init_r=12", "--adalora.target_r=8", "--adalora.lora_alpha=32",
            "--adalora.tinit=20", "--adalora.tfinal=40", "--adalora.deltaT=5", "--adalora.target_modules=[q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj]" }),
        new("sora", "SoRA r=16 (λ 1)", new[] { "--adapter=sora", "--sora.r=16", "--sora.lora_alpha=32", "--sora.sparse_lambda=1" }),
        new("ia3", "IA3 (k, v, down)", new[] { "--adapter=ia3", "--learning_rate=1e-2" }),
        new("prompt", "prompt tuning, 16 tokens", new[] { "--adapter=prompt", "--prompt_tuning.num_virtual_tokens=16", "--learning_rate=3e-2" }),
        new("prefix", "prefix tuning, 16 tokens", new[] { "--adapter=prefix", "--prefix_tuning.num_virtual_tokens=16", "--learning_rate=1e-2" }),
        new("prefix-projection", "prefix tuning + projection", new[] { "--adapter=prefix", "--prefix_tuning.num_virtual_tokens=16", "--prefix_tuning.prefix_projection=true", "--prefix_tuning.encoder_hidden_size=64", "--learning_rate=3e-3" }),
        new("bottleneck", "bottleneck 16 (o, down)", new[] { "--adapter=bottleneck", "--bottleneck.adapter_size=16" }),
        new("bottleneck-parallel", "parallel bottleneck 16", new[] { "--adapter=bottleneck", "--bottleneck.adapter_size=16", "--bottleneck.use_parallel_adapter=true" }),
    };

    public static int Run(string root, string outDir, int steps, IReadOnlyCollection<string>? only)
    {
        var cli = CliPath(root);
        var yaml = Path.Combine(root, "examples", "compare", "shakespeare.yaml");
        Directory.CreateDirectory(outDir);
        var results = new List<MethodResult>();
        foreach (var m in Methods.Where(m => only is null || only.Contains(m.Slug)))
        {
            var runDir = Path.Combine(outDir, m.Slug);
            if (Directory.Exists(runDir)) Directory.Delete(runDir, recursive: true);
            var args = new List<string> { cli, "train", yaml, $"--output_dir={runDir}", $"--max_steps={steps}" };
            args.AddRange(m.Overrides);
            var watch = Stopwatch.StartNew();
            var stdout = RunCli(root, args);
            results.Add(Read(m, runDir, stdout, watch.Elapsed.TotalSeconds));
            var r = results[^1];
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{m.Label}: {r.TrainableParameters:N0} trainable, ppl {r.EvalPerplexityBefore:F2} -> {r.EvalPerplexityAfter:F2}, {r.TokensPerSecond:F0} tok/s, peak {r.PeakMiB:F0} MiB, {r.Seconds:F0} s"));
        }
        var md = Markdown(results, steps);
        File.WriteAllText(Path.Combine(outDir, "compare.md"), md);
        File.WriteAllText(Path.Combine(outDir, "compare.json"), JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine(md);
        return results.All(r => double.IsFinite(r.EvalPerplexityAfter) && r.EvalPerplexityAfter < r.EvalPerplexityBefore) ? 0 : 1;
    }

    /// <summary>The CLI built beside this benchmark (same configuration), run with `dotnet`.</summary>
    static string CliPath(string root)
    {
        var config = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}") ? "Debug" : "Release";
        var dll = Path.Combine(root, "src", "PeftSharp.Cli", "bin", config, "net10.0", "PeftSharp.Cli.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException($"{dll} not found: build the CLI first (dotnet build -c {config})");
    }

    static string RunCli(string root, List<string> args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = root };
        foreach (var a in args) psi.ArgumentList.Add(a);
        // Run as a user runs it: no MALLOC_MMAP_THRESHOLD_ here (the training suite sets it to read live memory, but on
        // a model this small it makes every tensor an mmap/munmap and cuts tokens/s by more than half). Peak is then
        // the process's VmHWM as the user sees it, freed-but-kept heap included.
        using var p = Process.Start(psi)!;
        var errTask = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"peftsharp {string.Join(' ', args.Skip(1))} failed (exit {p.ExitCode}):\n{stdout}\n{errTask.Result}");
        return stdout;
    }

    static MethodResult Read(MethodRun m, string runDir, string stdout, double seconds)
    {
        var trained = Regex.Match(stdout, @"training ([\d,]+) parameters");
        long trainable = trained.Success ? long.Parse(trained.Groups[1].Value.Replace(",", ""), CultureInfo.InvariantCulture) : -1;
        var points = File.ReadLines(Path.Combine(runDir, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        double Num(JsonElement e, string key) => e.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : double.NaN;
        var evals = points.Where(p => p.GetProperty("split").GetString() == "eval").ToList();
        var train = points.Where(p => p.GetProperty("split").GetString() == "train").ToList();
        // The first logging window holds start-up (allocation, first-touch); the rest is the steady rate.
        var rates = train.Skip(train.Count > 1 ? 1 : 0).Select(p => Num(p, "tokens_per_second")).Order().ToList();
        var adapterFile = Path.Combine(runDir, "adapter_model.safetensors");
        var modelDir = Path.Combine(runDir, "model");
        long bytes = File.Exists(adapterFile) ? new FileInfo(adapterFile).Length
            : Directory.Exists(modelDir) ? Directory.EnumerateFiles(modelDir, "*.safetensors").Sum(f => new FileInfo(f).Length) : 0;
        var lr = m.Overrides.FirstOrDefault(o => o.StartsWith("--learning_rate=", StringComparison.Ordinal))?.Split('=')[1] ?? "3e-3";
        return new MethodResult(m.Slug, m.Label, lr, trainable, bytes,
            Num(evals.First(), "perplexity"), Num(evals.Last(), "perplexity"),
            rates.Count > 0 ? rates[rates.Count / 2] : double.NaN, train.Max(p => Num(p, "peak_memory_mib")), seconds, RankNote(runDir));
    }

    /// <summary>
    /// The rank left after training for methods that prune ranks: AdaLoRA's rank_pattern (a mask per module), or a
    /// pruned SoRA saved as LoRA (rank_pattern lists only the modules whose rank differs from r).
    /// </summary>
    static string RankNote(string runDir)
    {
        var configFile = Path.Combine(runDir, "adapter_config.json");
        if (!File.Exists(configFile)) return "";
        using var doc = JsonDocument.Parse(File.ReadAllText(configFile));
        var root = doc.RootElement;
        if (!root.TryGetProperty("rank_pattern", out var rp) || rp.ValueKind != JsonValueKind.Object || !rp.EnumerateObject().Any()) return "";
        if (root.GetProperty("peft_type").GetString() == "ADALORA")
        {
            var masks = rp.EnumerateObject().ToList();
            return $"rank kept: {masks.Sum(m => m.Value.EnumerateArray().Count(v => v.GetBoolean()))} of {masks.Sum(m => m.Value.GetArrayLength())}, {masks.Count} modules";
        }
        int r = root.GetProperty("r").GetInt32();
        var modules = root.GetProperty("target_modules").EnumerateArray().Select(t => t.GetString()!).ToList();
        var ranks = rp.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32());
        int kept = modules.Sum(m => ranks.FirstOrDefault(kv => System.Text.RegularExpressions.Regex.IsMatch(m, $"^(?:.*\\.)?(?:{kv.Key})$")).Value is var v and > 0 ? v : r);
        return $"rank kept: {kept} of {r * modules.Count}, {modules.Count} modules";
    }

    static string Markdown(List<MethodResult> results, int steps)
    {
        var inv = CultureInfo.InvariantCulture;
        var b = new StringBuilder();
        b.AppendLine(inv, $"stories260K -> tinyshakespeare, {steps} steps of 8 unpacked speeches (<= 256 tokens), cosine schedule, 20 warm-up steps, eval on 5% held-out speeches.");
        b.AppendLine();
        b.AppendLine("| method | lr | trainable params | saved | eval ppl (start -> tuned) | tokens/s | peak RSS MiB | time | |");
        b.AppendLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var r in results)
            b.AppendLine(inv, $"| {r.Label} | {r.LearningRate} | {r.TrainableParameters:N0} | {Size(r.AdapterBytes)} | {r.EvalPerplexityBefore:F2} -> **{r.EvalPerplexityAfter:F2}** | {r.TokensPerSecond:F0} | {r.PeakMiB:F0} | {r.Seconds:F0} s | {r.Note} |");
        return b.ToString();
    }

    static string Size(long bytes) => bytes >= 1 << 20 ? $"{bytes / 1048576.0:F1} MiB".Replace(',', '.') : $"{bytes / 1024.0:F1} KiB".Replace(',', '.');
}
