using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using PeftSharp.IO.SafeTensors;
using PeftSharp.Models;
using PeftSharp.Models.Llama;
using PeftSharp.Nn;
using PeftSharp.Nn.Quantized;
using static TorchSharp.torch;

namespace PeftSharp.Bench;

/// <summary>
/// Model load time and peak memory, each mode in a fresh process so one mode's peak cannot hide another's:
///   mapped  - parameters use the file's mapped pages (no copy);
///   copy    - parameters are allocated and filled by one memcpy from the mapping;
///   stream  - the naive route: read each tensor's bytes with FileStream into a managed buffer, then copy;
///   nf4dq   - Linear weights quantized to NF4 with double quantization while loading, layer by layer;
///   int8    - Linear weights quantized to LLM.int8 while loading.
/// </summary>
public static class LoadBenchmark
{
    public static readonly string[] Modes = { "mapped", "copy", "stream", "nf4dq", "int8" };

    public sealed record Result(string Mode, double Seconds, double TouchSeconds, double PeakMiB, double PeakAnonMiB, double AnonMiB, long Parameters, double LinearBytesPerParameter);

    public static int Run(string dir, int repeats, string jsonOut)
    {
        BenchModels.EnsureRandomCheckpoint(BenchModels.Qwen25_05B(), dir);
        var results = new List<Result>();
        foreach (var mode in Modes)
            for (int i = 0; i < repeats; i++)
            {
                DropPageCacheHint(dir);
                results.Add(RunChild(dir, mode));
            }
        Console.WriteLine("| mode | load (s), median | first pass over all weights (s) | peak RSS (MiB) | peak private during load (MiB) | private after (MiB) | Linear bytes/param |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        foreach (var g in results.GroupBy(r => r.Mode))
        {
            double Median(Func<Result, double> f) => g.Select(f).OrderBy(x => x).ElementAt(g.Count() / 2);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {g.Key} | {Median(r => r.Seconds):F2} | {Median(r => r.TouchSeconds):F2} | {g.Max(r => r.PeakMiB):F0} | {g.Max(r => r.PeakAnonMiB):F0} | {g.Max(r => r.AnonMiB):F0} | {g.First().LinearBytesPerParameter:F3} |"));
        }
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(jsonOut))!);
        File.WriteAllText(jsonOut, JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"parameters: {results[0].Parameters:N0}; results in {jsonOut}");
        return 0;
    }

    /// <summary>Reads the files once so every mode starts with them in the page cache (we measure loading, not the disk).</summary>
    static void DropPageCacheHint(string dir)
    {
        var buffer = new byte[1 << 20];
        foreach (var f in Directory.EnumerateFiles(dir, "*.safetensors"))
        {
            using var s = File.OpenRead(f);
            while (s.Read(buffer) > 0) { }
        }
    }

    static Result RunChild(string dir, string mode)
    {
        var self = Environment.ProcessPath!;
        var psi = new ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
        if (self.EndsWith("dotnet", StringComparison.Ordinal)) psi.ArgumentList.Add(typeof(LoadBenchmark).Assembly.Location);
        foreach (var a in new[] { "load-child", mode, dir }) psi.ArgumentList.Add(a);
        // Return freed memory to the OS at once so VmHWM measures what is really held.
        psi.Environment["MALLOC_MMAP_THRESHOLD_"] = "65536";
        using var p = Process.Start(psi)!;
        var line = p.StandardOutput.ReadToEnd().Trim().Split('\n')[^1];
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"load-child {mode} failed: {line}");
        return JsonSerializer.Deserialize<Result>(line)!;
    }

    public static int Child(string mode, string dir)
    {
        TorchRuntime.EnsureInitialized();
        var config = LlamaConfig.FromFile(Path.Combine(dir, "config.json"));
        using var sampler = new ProcessMemorySampling.PeakAnonymousSampler();
        var watch = Stopwatch.StartNew();
        LlamaForCausalLM model;
        if (mode is "nf4dq" or "int8")
        {
            var q = mode == "int8"
                ? new QuantizationConfig { LoadIn8Bit = true }
                : new QuantizationConfig { LoadIn4Bit = true, Bnb4BitQuantType = "nf4", Bnb4BitUseDoubleQuant = true, Bnb4BitComputeDtype = "bfloat16" };
            model = PretrainedCausalLM.Load(dir, new ModelLoadOptions { DType = "bfloat16", Quantization = q }).Model;
        }
        else
        {
            model = new LlamaForCausalLM(config, ScalarType.BFloat16);
            using var source = SafeTensorsCheckpoint.Open(dir);
            if (mode == "stream") StreamLoad(model, dir);
            else WeightLoader.Load(model, source, model.TiedKeys, mapped: mode == "mapped");
        }
        double loadSeconds = watch.Elapsed.TotalSeconds;
        double loadPeakPrivate = sampler.PeakBytes / 1048576.0;
        watch.Restart();
        // Touch every weight once (a forward pass would), so lazily mapped pages count in the peak too.
        double checksum = 0;
        using (no_grad())
            foreach (var (_, p) in model.named_parameters())
            {
                using var scope = NewDisposeScope();
                checksum += p.sum().to(ScalarType.Float64).item<double>();
            }
        using (no_grad())
            foreach (var l in model.named_modules().Select(m => m.module).OfType<Linear>().Where(l => l.Quantized is not null))
            {
                using var scope = NewDisposeScope();
                checksum += l.Quantized!.Dequantize(ScalarType.BFloat16).sum().to(ScalarType.Float64).item<double>();
            }
        watch.Stop();
        var (linearParams, linearBytes) = LinearStorage(model);
        var result = new Result(mode, loadSeconds, watch.Elapsed.TotalSeconds, ProcessMemory.PeakBytes() / 1048576.0, loadPeakPrivate, ProcessMemory.AnonymousBytes() / 1048576.0,
            ModelSummary.CountParameters(model), (double)linearBytes / linearParams);
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{mode}: checksum {checksum:E3}"));
        Console.WriteLine(JsonSerializer.Serialize(result));
        return 0;
    }

    /// <summary>Parameters and bytes of the base weights of every Linear except the output head (what quantization shrinks).</summary>
    static (long Params, long Bytes) LinearStorage(LlamaForCausalLM model)
    {
        long p = 0, b = 0;
        foreach (var (name, m) in model.named_modules())
        {
            if (m is not Linear l || name == "lm_head") continue;
            p += (long)l.InFeatures * l.OutFeatures;
            b += l.Quantized?.StorageBytes ?? l.weight.numel() * l.weight.ElementSize;
        }
        return (p, b);
    }

    /// <summary>The approach without memory mapping: FileStream reads into a managed array, then into the tensor.</summary>
    static void StreamLoad(LlamaForCausalLM model, string dir)
    {
        var targets = model.state_dict();
        var files = Directory.EnumerateFiles(dir, "*.safetensors").ToList();
        using (no_grad())
            foreach (var file in files)
            {
                using var meta = SafeTensorsFile.Open(file);
                using var stream = File.OpenRead(file);
                long dataStart = 8 + meta.HeaderLength;
                foreach (var key in meta.KeysInFileOrder)
                {
                    if (!targets.TryGetValue(key, out var target)) continue;
                    var info = meta.GetInfo(key);
                    var bytes = new byte[info.ByteLength];
                    stream.Seek(dataStart + meta.DataOffset(key), SeekOrigin.Begin);
                    stream.ReadExactly(bytes);
                    using var t = empty(info.Shape, ScalarType.BFloat16);
                    bytes.AsSpan().CopyTo(t.bytes);
                    target.copy_(t);
                }
            }
    }
}
