using System.CommandLine;
using PeftSharp.Models;
using PeftSharp.Peft;

namespace PeftSharp.Cli.Commands;

/// <summary>The options that say which model to load (--model, --tokenizer, --dtype), shared by every command that loads one.</summary>
internal sealed class ModelOptions
{
    readonly Option<string> model = new("--model", "-m")
    {
        Description = "Model folder, model file (llama2.c .bin, .safetensors) or Hugging Face repo id in the local cache",
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

    public ModelOptions AddTo(Command command, bool withAdapter = true)
    {
        command.Options.Add(model);
        command.Options.Add(tokenizer);
        command.Options.Add(dtype);
        if (withAdapter) command.Options.Add(adapter);
        return this;
    }

    /// <summary>The model, and the adapter applied to it when --adapter was given.</summary>
    public (PretrainedCausalLM Lm, PeftModel? Peft) Load(ParseResult r)
    {
        var lm = PretrainedCausalLM.Load(r.GetValue(model)!, new ModelLoadOptions { DType = r.GetValue(dtype)!, TokenizerPath = r.GetValue(tokenizer) });
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

    public string? AdapterPath(ParseResult r) => r.GetValue(adapter);
}

/// <summary>Options several commands share, with one spelling and one help text.</summary>
internal static class CommonOptions
{

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
