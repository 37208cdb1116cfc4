using TorchSharp;
using PeftSharp.IO;
using PeftSharp.IO.HuggingFace;
using PeftSharp.IO.LlamaC;
using PeftSharp.IO.SafeTensors;
using PeftSharp.Models.Llama;
using PeftSharp.Nn.Quantized;
using PeftSharp.Tokenization;
using static TorchSharp.torch;

namespace PeftSharp.Models;

/// <summary>How to load a model: dtype ("auto" = the checkpoint's, fp16 widened to fp32 on CPU) and an optional tokenizer path.</summary>
public sealed record ModelLoadOptions
{
    /// <summary>
    /// Parameter dtype: "auto" (default: the checkpoint's torch_dtype, with float16 loaded as float32 because fp16
    /// matmul is very slow on CPU), "float32"/"fp32" or "bfloat16"/"bf16". See <see
    /// cref="PretrainedCausalLM.ResolveDType"/>.
    /// </summary>
    public string DType { get; init; } = "auto";
    /// <summary>
    /// A tokenizer file or folder to use instead of the one beside the model; null (default) = the model's own.
    /// </summary>
    public string? TokenizerPath { get; init; }
    /// <summary>Use the checkpoint's memory-mapped pages as the weights where the dtype matches (no copy).</summary>
    public bool MemoryMapped { get; init; } = true;
    /// <summary>Quantize Linear weights while loading (bitsandbytes-style 4-bit or 8-bit); null = as the checkpoint stores them.</summary>
    public QuantizationConfig? Quantization { get; init; }
    /// <summary>
    /// Where the model computes (<see cref="ComputeDevice.Parse"/> reads the CLI's spelling); null = the CPU. Off the
    /// CPU the parameters are created on the device and filled from the checkpoint (no memory mapping), and quantized
    /// weights are moved there after quantizing.
    /// </summary>
    public Device? Device { get; init; }

    /// <summary>The device to build on, and whether the checkpoint's mapped pages can be the weights (CPU only).</summary>
    internal (Device Device, bool Mapped) Placement => Device is { type: not DeviceType.CPU } d ? (d, false) : (CPU, MemoryMapped);
}

/// <summary>A loaded causal LM with everything needed to use it: config, tokenizer, generation defaults.</summary>
public sealed class PretrainedCausalLM : IDisposable
{
    /// <summary>
    /// The loaded model with its weights filled; wrap it in a <see cref="Peft.PeftModel"/> to add adapters.
    /// </summary>
    public LlamaForCausalLM Model { get; }
    /// <summary>The model's tokenizer, or null when none was found beside it and none was given.</summary>
    public ITextTokenizer? Tokenizer { get; }
    /// <summary>
    /// generation_config.json of a Hugging Face folder (EOS ids, sampling defaults), or null when absent or for
    /// llama2.c files.
    /// </summary>
    public GenerationConfig? Generation { get; }
    /// <summary>
    /// Where the model was found: its format (HF folder or llama2.c file), resolved path and the argument given.
    /// </summary>
    public ModelLocation Location { get; }
    /// <summary>Which checkpoint tensors were loaded and which were not used by the model.</summary>
    public WeightLoadReport LoadReport { get; }
    readonly IReadOnlyList<string> tokenizerFiles;

    PretrainedCausalLM(LlamaForCausalLM model, (ITextTokenizer? Tokenizer, IReadOnlyList<string> Files) tokenizer, GenerationConfig? generation, ModelLocation location, WeightLoadReport report)
    {
        Model = model;
        Tokenizer = tokenizer.Tokenizer;
        tokenizerFiles = tokenizer.Files;
        Generation = generation;
        Location = location;
        LoadReport = report;
    }

    /// <summary>The model's configuration (shorthand for <c>Model.Config</c>).</summary>
    public LlamaConfig Config => Model.Config;

    /// <summary>Loads from a folder, a single file, or a Hugging Face repo id in the local cache.</summary>
    public static PretrainedCausalLM Load(string model, ModelLoadOptions? options = null)
    {
        options ??= new ModelLoadOptions();
        TorchRuntime.EnsureInitialized();
        var location = ModelLocator.Resolve(model);
        var (config, source) = OpenCheckpoint(location);
        using (source)
        {
            var dtype = ResolveDType(options.DType, config.TorchDtype);
            var quantization = options.Quantization is { Enabled: true } q ? q.Validate() : config.Quantization;
            config = config with { Quantization = quantization };
            var (device, mapped) = options.Placement;
            LlamaForCausalLM lm;
            using (DefaultDeviceScope.On(device)) lm = new LlamaForCausalLM(config, dtype);
            var quantizer = quantization is { Enabled: true } ? new BnbWeightQuantizer(quantization) : null;
            var report = WeightLoader.Load(lm, source, lm.TiedKeys, mapped, quantizer);
            var tokenizer = LoadTokenizer(location, options.TokenizerPath);
            var generation = location.Format == ModelFormat.HuggingFaceFolder ? GenerationConfig.FromFolder(location.Path) : null;
            return new PretrainedCausalLM(lm, tokenizer, generation, location, report);
        }
    }

    /// <summary>The config and the weights of a located checkpoint (llama2.c file or HF safetensors folder).</summary>
    internal static (LlamaConfig Config, ITensorSource Source) OpenCheckpoint(ModelLocation location)
    {
        if (location.Format == ModelFormat.LlamaC)
        {
            var ckpt = LlamaCCheckpoint.Open(location.Path);
            return (LlamaCImport.ConfigFrom(ckpt.Header), ckpt);
        }
        return (LlamaConfig.FromFile(Path.Combine(location.Path, "config.json")), SafeTensorsCheckpoint.Open(location.Path));
    }

    /// <summary>
    /// The files the tokenizer was read from, keyed by the name they take in a saved model folder (a llama2.c
    /// tokenizer such as tok512.bin becomes tokenizer.bin, plus a tokenizer.json and tokenizer_config.json written
    /// from it, so the saved folder works with Hugging Face tooling too).
    /// </summary>
    public IReadOnlyDictionary<string, string> TokenizerFiles() => TokenizerFilesFor(Location, Tokenizer, tokenizerFiles);

    internal static IReadOnlyDictionary<string, string> TokenizerFilesFor(ModelLocation location, ITextTokenizer? tokenizer, IReadOnlyList<string> tokenizerFiles)
    {
        if (location.Format != ModelFormat.LlamaC)
            return tokenizerFiles.ToDictionary(f => Path.GetFileName(f), f => f);
        var files = tokenizerFiles.ToDictionary(f => f.EndsWith(".bin", StringComparison.Ordinal) ? "tokenizer.bin" : Path.GetFileName(f), f => f);
        if (tokenizer is Tokenization.Llama2c.Llama2cTokenizer l2c)
        {
            var dir = Path.Combine(Path.GetTempPath(), $"peftsharp-tokenizer-{Environment.ProcessId}-{Guid.NewGuid():N}");
            Directory.CreateDirectory(dir);
            Tokenization.Llama2c.Llama2cTokenizerJson.Write(l2c, dir);
            files["tokenizer.json"] = Path.Combine(dir, "tokenizer.json");
            files["tokenizer_config.json"] = Path.Combine(dir, "tokenizer_config.json");
        }
        return files;
    }

    static readonly string[] TokenizerFileNames = { "tokenizer.json", "tokenizer.model", "tokenizer.bin", "tokenizer_config.json", "special_tokens_map.json" };

    /// <summary>Just the tokenizer a model would load with (e.g. to read data before the model is built).</summary>
    public static ITextTokenizer? LoadTokenizer(string model, string? tokenizerPath = null) =>
        LoadTokenizer(ModelLocator.Resolve(model), tokenizerPath).Item1;

    internal static (ITextTokenizer?, IReadOnlyList<string>) LoadTokenizer(ModelLocation location, string? explicitPath)
    {
        if (explicitPath is not null)
            return Directory.Exists(explicitPath)
                ? (TokenizerLoader.FromFolder(explicitPath), FilesIn(explicitPath))
                : (TokenizerLoader.FromFile(explicitPath), new[] { explicitPath });
        if (location.Format == ModelFormat.LlamaC)
        {
            // llama2.c ships tokenizer.bin (or tok<N>.bin) beside the checkpoint.
            var candidates = Directory.EnumerateFiles(location.Folder, "*.bin")
                .Where(f => Path.GetFileName(f) is var n && (n == "tokenizer.bin" || n.StartsWith("tok", StringComparison.Ordinal)) && Path.GetFullPath(f) != Path.GetFullPath(location.Path))
                .ToList();
            return candidates.Count == 1 ? (TokenizerLoader.FromFile(candidates[0]), candidates) : (null, Array.Empty<string>());
        }
        var files = FilesIn(location.Path);
        bool hasTokenizer = files.Any(f => Path.GetFileName(f) is "tokenizer.json" or "tokenizer.model" or "tokenizer.bin")
            || Directory.EnumerateFiles(location.Path, "*.tiktoken").Any();
        return hasTokenizer ? (TokenizerLoader.FromFolder(location.Path), files) : (null, Array.Empty<string>());
    }

    static IReadOnlyList<string> FilesIn(string folder) =>
        TokenizerFileNames.Select(n => Path.Combine(folder, n)).Where(File.Exists)
            .Concat(Directory.EnumerateFiles(folder, "*.tiktoken")).ToList();

    /// <summary>The parameter dtype to load with.</summary>
    /// <param name="requested">"auto", "float32"/"fp32" or "bfloat16"/"bf16" (float16 names are accepted only through
    /// "auto").</param>
    /// <param name="checkpointDType">The checkpoint's torch_dtype, used by "auto"; null = float32.</param>
    /// <returns>Float32 or BFloat16; a float16 checkpoint under "auto" loads as Float32 (exact, and far faster than
    /// fp16 on CPU).</returns>
    /// <exception cref="ConfigurationException">float16 was asked for explicitly, or the name is unknown.</exception>
    public static ScalarType ResolveDType(string requested, string? checkpointDType)
    {
        string name = requested == "auto" ? checkpointDType ?? "float32" : requested;
        return name switch
        {
            "float32" or "fp32" => ScalarType.Float32,
            "bfloat16" or "bf16" => ScalarType.BFloat16,
            // fp16 matmul on CPU is hundreds of times slower than bf16; fp32 keeps every fp16 value exactly.
            "float16" or "fp16" or "half" => requested == "auto" ? ScalarType.Float32 : throw new ConfigurationException(
                "dtype float16 is not supported on CPU (hundreds of times slower than bfloat16): use --dtype bfloat16 or float32"),
            _ => throw new ConfigurationException($"unknown dtype '{name}': use auto, float32 or bfloat16"),
        };
    }

    /// <summary>Stop ids for generation: the tokenizer's EOS ids, else generation_config's, else config.json's.</summary>
    public IReadOnlyCollection<int> StopTokenIds()
    {
        var ids = new HashSet<int>();
        if (Generation?.EosTokenIds is { Count: > 0 } g) ids.UnionWith(g);
        else if (Config.EosTokenIds.Count > 0) ids.UnionWith(Config.EosTokenIds);
        if (Tokenizer?.EosId is { } e) ids.Add(e);
        return ids;
    }

    /// <summary>Releases the model's tensors (memory-mapped checkpoint pages included).</summary>
    public void Dispose() => Model.Dispose();
}
