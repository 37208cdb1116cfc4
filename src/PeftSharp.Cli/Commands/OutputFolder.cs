namespace PeftSharp.Cli.Commands;

/// <summary>Checks of a folder a command will write (train's output_dir, merge's and convert's --out), made before any work.</summary>
internal static class OutputFolder
{
    /// <param name="option">How the user named it (output_dir, --out).</param>
    /// <param name="modelFolder">The folder of the model being read: writing into it would mix outputs with its files.</param>
    /// <param name="mustBeNew">True when the command writes a whole new folder (merge, convert); train may continue a run in its own.</param>
    public static void Check(string path, string option, string modelFolder, bool mustBeNew)
    {
        var full = Path.GetFullPath(path);
        if (File.Exists(full)) throw new ConfigurationException($"{option} '{path}' is a file: choose a new output folder");
        CheckOutsideModel(path, option, modelFolder);
        if (mustBeNew && Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any())
            throw new ConfigurationException($"{option} '{path}' already exists and is not empty: choose a new output folder or remove it first");
    }

    /// <summary>Refuses an output path that is the model folder or inside it (its files would mix with the model's).</summary>
    public static void CheckOutsideModel(string path, string option, string modelFolder)
    {
        var model = Path.TrimEndingDirectorySeparator(Path.GetFullPath(modelFolder));
        var target = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        if (target == model || target.StartsWith(model + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new ConfigurationException(
                $"{option} '{path}' is {(target == model ? "the model folder" : "inside the model folder")} ({model}): its files would mix with the model's; choose an output path outside the model folder");
    }
}
