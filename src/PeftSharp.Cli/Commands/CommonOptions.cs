using System.CommandLine;
using PeftSharp.Models;

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

    public ModelOptions AddTo(Command command)
    {
        command.Options.Add(model);
        command.Options.Add(tokenizer);
        command.Options.Add(dtype);
        return this;
    }

    public PretrainedCausalLM Load(ParseResult r) =>
        PretrainedCausalLM.Load(r.GetValue(model)!, new ModelLoadOptions { DType = r.GetValue(dtype)!, TokenizerPath = r.GetValue(tokenizer) });
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
