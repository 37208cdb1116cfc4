namespace PeftSharp.IO;

/// <summary>
/// PyTorch pickle checkpoints (pytorch_model.bin, adapter_model.bin, *.pt, *.pth, *.ckpt) are never read: unpickling
/// runs whatever code the file names (a GLOBAL opcode can call os.system). Every load path that could meet one refuses
/// it by its name alone, before opening it, with the one message below that says how to convert it to safetensors.
/// </summary>
public static class PickleCheckpoints
{
    /// <summary>Extensions PyTorch pickles go by (a llama2.c checkpoint is a .bin too: callers sniff those first).</summary>
    public static readonly IReadOnlyList<string> Extensions = [".bin", ".pt", ".pth", ".ckpt", ".pkl"];

    /// <summary>
    /// True when <paramref name="path"/> ends with one of <see cref="Extensions"/> (case-insensitive); the file is not
    /// opened.
    /// </summary>
    public static bool HasPickleExtension(string path) =>
        Extensions.Contains(Path.GetExtension(path).ToLowerInvariant());

    /// <summary>The pickle checkpoints in <paramref name="folder"/> (files with a pickle extension), by name.</summary>
    public static IReadOnlyList<string> In(string folder, Func<string, bool>? exclude = null) =>
        Directory.Exists(folder)
            ? Directory.EnumerateFiles(folder).Where(HasPickleExtension).Where(f => exclude is null || !exclude(f))
                .Select(f => Path.GetFileName(f)!).Order(StringComparer.Ordinal).ToList()
            : [];

    /// <summary>The refusal for <paramref name="path"/> (a pickle file, or a folder whose only weights are pickles).</summary>
    public static PeftSharpException Refusal(string path, string? safetensorsName = null)
    {
        string file = Path.GetFileName(path);
        string target = safetensorsName ?? (file.StartsWith("adapter_model", StringComparison.Ordinal) ? "adapter_model.safetensors" : "model.safetensors");
        string source = HasPickleExtension(path) ? file : "pytorch_model.bin";
        return new PeftSharpException(
            $"{path}: PyTorch pickle checkpoints are not loaded, because unpickling can run any code the file contains. " +
            $"Convert it to safetensors once, where you trust it: `python -c \"import torch; from safetensors.torch import save_file; " +
            $"save_file({{k: v.clone().contiguous() for k, v in torch.load('{source}', weights_only=True).items()}}, '{target}')\"`, " +
            "or load it with transformers / PEFT and call save_pretrained(folder, safe_serialization=True)");
    }
}
