namespace PeftSharp.IO.SafeTensors;

/// <summary>One entry point for safetensors checkpoints, whatever shape they come in.</summary>
public static class SafeTensorsCheckpoint
{
    /// <summary>The file name of an unsharded HF checkpoint, "model.safetensors".</summary>
    public const string SingleFileName = "model.safetensors";

    /// <summary>
    /// Opens a <c>.safetensors</c> file, a <c>*.index.json</c> of a sharded checkpoint, or a folder holding
    /// either (preferring <c>model.safetensors.index.json</c>, then <c>model.safetensors</c>, then a single
    /// <c>*.safetensors</c> file). The caller owns the returned source. Malformed files throw
    /// <see cref="InvalidFileFormatException"/>; PyTorch pickles (a .bin/.pt path, or a folder holding only those) are
    /// refused unopened with <see cref="PeftSharpException"/> suggesting a safetensors conversion.
    /// </summary>
    public static ITensorSource Open(string path)
    {
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full))
            return OpenFolder(full);
        if (!File.Exists(full))
            throw new PeftSharpException($"{full}: no such file or folder; pass a .safetensors file, a "
                + $"{ShardedSafeTensors.IndexFileName} or a folder holding one");
        if (full.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
            return ShardedSafeTensors.Open(full);
        if (full.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
            return SafeTensorsFile.Open(full);
        if (PickleCheckpoints.HasPickleExtension(full))
            throw PickleCheckpoints.Refusal(full);
        throw new PeftSharpException($"{full}: not a safetensors checkpoint; expected a .safetensors file or a "
            + "safetensors index (.json)");
    }

    private static ITensorSource OpenFolder(string folder)
    {
        string index = Path.Combine(folder, ShardedSafeTensors.IndexFileName);
        if (File.Exists(index))
            return ShardedSafeTensors.Open(index);
        string single = Path.Combine(folder, SingleFileName);
        if (File.Exists(single))
            return SafeTensorsFile.Open(single);
        var candidates = Directory.GetFiles(folder, "*.safetensors");
        var indexes = Directory.GetFiles(folder, "*.safetensors.index.json");
        if (indexes.Length == 1)
            return ShardedSafeTensors.Open(indexes[0]);
        if (candidates.Length == 1 && indexes.Length == 0)
            return SafeTensorsFile.Open(candidates[0]);
        // A folder with PyTorch weights only (pytorch_model.bin, shards, *.pt): refuse them by name, unopened.
        if (candidates.Length + indexes.Length == 0 && PickleCheckpoints.In(folder) is [var pickle, ..])
            throw PickleCheckpoints.Refusal(Path.Combine(folder, pickle));
        var contents = Directory.EnumerateFileSystemEntries(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        string listing = contents.Count == 0 ? "it is empty"
            : $"it holds {string.Join(", ", contents.Take(20))}{(contents.Count > 20 ? $", ... ({contents.Count} entries)" : "")}";
        string why = candidates.Length + indexes.Length > 1
            ? "several safetensors files and no " + ShardedSafeTensors.IndexFileName + " to say which belong together"
            : "no safetensors checkpoint";
        throw new PeftSharpException($"{folder}: {why} ({listing}); expected {ShardedSafeTensors.IndexFileName}, "
            + $"{SingleFileName} or a single *.safetensors file");
    }
}
