using System.CommandLine;

namespace PeftSharp.Cli.Commands;

/// <summary>Options several commands share, with one spelling and one help text.</summary>
internal static class CommonOptions
{
    public static Option<string> Model() => new("--model", "-m")
    {
        Description = "Model folder, model file (llama2.c .bin, .safetensors) or Hugging Face repo id in the local cache",
        Required = true,
    };

    public static Option<string?> Tokenizer() => new("--tokenizer")
    {
        Description = "Tokenizer file or folder, when it is not beside the model",
    };

    public static Option<string> DType() => new("--dtype")
    {
        Description = "Weight dtype: auto (the checkpoint's), float32 or bfloat16",
        DefaultValueFactory = _ => "auto",
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
