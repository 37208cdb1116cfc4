using System.CommandLine;
using PeftSharp.IO.HuggingFace;
using PeftSharp.Models;
using PeftSharp.Models.Whisper;
using PeftSharp.Peft;
using PeftSharp.Nn.Quantized;

namespace PeftSharp.Cli.Commands;

/// <summary>The options that say which model to load (--model, --tokenizer, --dtype), shared by every command that loads one.</summary>
internal sealed class ModelOptions
{
    readonly Option<string> model = new("--model", "-m")
    {
        Description = "Model folder, model file (llama2.c .bin, .safetensors) or Hugging Face repo id (org/name[/folder][@revision]; downloaded into the Hugging Face cache when missing)",
        Required = true,
    };

    readonly Option<string?> tokenizer = new("--tokenizer")
    {
        Description = "Tokenizer file or folder, when it is not beside the model",
    };

    readonly Option<string> dtype = new("--dtype")
    {
        Description = "Weight dtype: auto (the checkpoint's), float32 or bfloat16",
        DefaultValueFactory = _ => "auto",
    };

    readonly Option<string?> adapter = new("--adapter", "-a")
    {
        Description = "PEFT adapter folder (adapter_config.json + adapter_model.safetensors) to apply on top of the model",
    };

    readonly Option<bool> loadIn4Bit = new("--load-in-4bit") { Description = "Quantize Linear weights to 4 bits while loading (QLoRA base)" };
    readonly Option<bool> loadIn8Bit = new("--load-in-8bit") { Description = "Quantize Linear weights to int8 (LLM.int8) while loading" };
    readonly Option<string> quantType = new("--bnb-4bit-quant-type") { Description = "4-bit code: nf4 or fp4 (transformers' default: fp4)", DefaultValueFactory = _ => "fp4" };
    readonly Option<bool> doubleQuant = new("--bnb-4bit-use-double-quant") { Description = "Quantize the 4-bit block scales too (saves ~0.37 bits/parameter)" };
    readonly Option<string> computeDtype = new("--bnb-4bit-compute-dtype") { Description = "dtype 4-bit weights are dequantized to for matmuls: float32 or bfloat16", DefaultValueFactory = _ => "float32" };
    readonly Option<double> int8Threshold = new("--llm-int8-threshold") { Description = "LLM.int8 outlier threshold (0 = plain int8)", DefaultValueFactory = _ => 6.0 };
    readonly Option<string> device = CommonOptions.Device();

    public ModelOptions AddTo(Command command, bool withAdapter = true)
    {
        command.Options.Add(model);
        command.Options.Add(tokenizer);
        command.Options.Add(dtype);
        foreach (var o in new Option[] { loadIn4Bit, loadIn8Bit, quantType, doubleQuant, computeDtype, int8Threshold, device }) command.Options.Add(o);
        if (withAdapter) command.Options.Add(adapter);
        return this;
    }

    /// <summary>The model, and the adapter applied to it when --adapter was given.</summary>
    /// <summary>
    /// The checks that need no model, made by every Load before it reads a weight: dtype, quantization, the
    /// tokenizer and adapter paths, and where the model is.
    /// </summary>
    public ModelLocation Check(ParseResult r)
    {
        var name = r.GetValue(dtype)!;
        if (name != "auto") PretrainedCausalLM.ResolveDType(name, null);
        LoadOptions(r);
        if (r.GetValue(tokenizer) is { } t && !File.Exists(t) && !Directory.Exists(t))
            throw new ConfigurationException($"--tokenizer {t} not found: pass a tokenizer file or folder, or leave it out to use the model's own");
        if (AdapterPath(r) is { } folder)
        {
            if (!File.Exists(Path.Combine(folder, AdapterFolder.ConfigFile))) AdapterFolder.ReadConfig(folder); // throws, naming what the folder holds
            if (!File.Exists(Path.Combine(folder, AdapterFolder.WeightsFile)))
                throw new ConfigurationException($"{Path.Combine(folder, AdapterFolder.WeightsFile)} not found: the adapter folder has a config but no weights; pass a complete adapter folder");
        }
        // A repo id missing from the cache is downloaded here, with progress on stderr; the loaders then find it cached.
        return ModelLocator.Resolve(ModelPath(r), DownloadProgress.Options(r));
    }

    public (PretrainedCausalLM Lm, PeftModel? Peft) Load(ParseResult r)
    {
        Check(r);
        var lm = PretrainedCausalLM.Load(ModelPath(r), LoadOptions(r));
        try
        {
            var folder = r.GetValue(adapter);
            return (lm, folder is null ? null : AdapterFolder.Load(lm.Model, folder));
        }
        catch
        {
            lm.Dispose();
            throw;
        }
    }

    /// <summary>A sequence classifier: the model's own head, or the head and adapter of --adapter (trained with task: classification).</summary>
    public PretrainedClassifier LoadClassifier(ParseResult r)
    {
        Check(r);
        return PretrainedClassifier.Load(ModelPath(r), LoadOptions(r), adapterFolder: r.GetValue(adapter));
    }

    public string? AdapterPath(ParseResult r) => r.GetValue(adapter);

    public string? TokenizerPath(ParseResult r) => r.GetValue(tokenizer);

    /// <summary>A Whisper model, with the adapter of --adapter on it when given.</summary>
    public PretrainedWhisper LoadWhisper(ParseResult r)
    {
        Check(r);
        var whisper = PretrainedWhisper.Load(ModelPath(r), LoadOptions(r));
        try
        {
            if (AdapterPath(r) is { } folder) AdapterFolder.Load(whisper.Model, folder).SetTraining(false);
            whisper.Model.eval();
            return whisper;
        }
        catch
        {
            whisper.Dispose();
            throw;
        }
    }

    public string ModelPath(ParseResult r) => r.GetValue(model)!;

    /// <summary>dtype, tokenizer and quantization as the options give them.</summary>
    public ModelLoadOptions LoadOptions(ParseResult r)
    {
        var quantization = new QuantizationConfig
        {
            LoadIn4Bit = r.GetValue(loadIn4Bit),
            LoadIn8Bit = r.GetValue(loadIn8Bit),
            Bnb4BitQuantType = r.GetValue(quantType)!,
            Bnb4BitUseDoubleQuant = r.GetValue(doubleQuant),
            Bnb4BitComputeDtype = r.GetValue(computeDtype)!,
            LlmInt8Threshold = r.GetValue(int8Threshold),
        };
        return new ModelLoadOptions
        {
            DType = r.GetValue(dtype)!,
            TokenizerPath = r.GetValue(tokenizer),
            Quantization = quantization.Enabled ? quantization.Validate() : null,
            Device = ComputeDevice.Parse(r.GetValue(device)),
        };
    }
}

/// <summary>Options several commands share, with one spelling and one help text.</summary>
internal static class CommonOptions
{

    /// <summary>--device: where the model computes (cpu, cuda, cuda:N, auto).</summary>
    public static Option<string> Device() => new("--device")
    {
        Description = "Where the model computes: cpu, cuda (= cuda:0), cuda:N, or auto (a GPU when torch sees one); a GPU needs the CUDA build (docs/howto/cuda.md)",
        DefaultValueFactory = _ => "cpu",
    };

    public static Option<int?> Threads() => new("--threads")
    {
        Description = "CPU threads for torch (default: physical cores)",
    };

    public static void ApplyThreads(int? threads)
    {
        if (threads is { } t)
        {
            if (t <= 0) throw new ConfigurationException($"--threads must be positive, found {t}");
            TorchRuntime.EnsureInitialized(t);
        }
        else TorchRuntime.EnsureInitialized();
    }
}
