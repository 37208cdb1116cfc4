using System.Globalization;
using System.Text.RegularExpressions;

namespace PeftSharp.Training;

/// <summary>
/// Training checkpoints under output_dir/checkpoint-&lt;step&gt;/. A checkpoint is written into a temporary folder and
/// renamed into place only when complete, then the "latest" pointer file is replaced; the oldest are deleted beyond
/// save_total_limit. A crash at any moment leaves every listed checkpoint loadable.
/// </summary>
public sealed partial class CheckpointStore
{
    public const string LatestFile = "latest";
    readonly string outputDir;
    readonly int keep;

    public CheckpointStore(string outputDir, int keep)
    {
        this.outputDir = outputDir;
        this.keep = keep;
    }

    [GeneratedRegex(@"^checkpoint-(\d+)$")]
    private static partial Regex CheckpointName();

    public IReadOnlyList<(int Step, string Path)> List() =>
        Directory.Exists(outputDir)
            ? Directory.EnumerateDirectories(outputDir)
                .Select(d => (Match: CheckpointName().Match(Path.GetFileName(d)), Path: d))
                .Where(x => x.Match.Success)
                .Select(x => (int.Parse(x.Match.Groups[1].Value, CultureInfo.InvariantCulture), x.Path))
                .OrderBy(x => x.Item1).ToList()
            : Array.Empty<(int, string)>();

    /// <summary>Writes a checkpoint: <paramref name="write"/> fills a temporary folder that then becomes checkpoint-&lt;step&gt;.</summary>
    public string Save(int step, Action<string> write)
    {
        Directory.CreateDirectory(outputDir);
        var final = Path.Combine(outputDir, $"checkpoint-{step}");
        var tmp = Path.Combine(outputDir, $".checkpoint-{step}.tmp-{Environment.ProcessId}");
        if (Directory.Exists(tmp)) Directory.Delete(tmp, true);
        Directory.CreateDirectory(tmp);
        try
        {
            write(tmp);
            if (Directory.Exists(final)) Directory.Delete(final, true);
            Directory.Move(tmp, final);
        }
        catch
        {
            if (Directory.Exists(tmp)) Directory.Delete(tmp, true);
            throw;
        }
        IO.AtomicFile.WriteAllBytes(Path.Combine(outputDir, LatestFile), System.Text.Encoding.UTF8.GetBytes(Path.GetFileName(final) + "\n"));
        foreach (var (_, old) in List().SkipLast(Math.Max(1, keep))) Directory.Delete(old, true);
        return final;
    }

    /// <summary>The checkpoint to resume from: "latest" (or true) resolves the pointer, else a path.</summary>
    public string? Resolve(string? resume)
    {
        if (string.IsNullOrEmpty(resume) || resume is "false") return null;
        if (resume is "latest" or "true")
        {
            var pointer = Path.Combine(outputDir, LatestFile);
            if (File.Exists(pointer))
            {
                var dir = Path.Combine(outputDir, File.ReadAllText(pointer).Trim());
                if (Directory.Exists(dir)) return dir;
            }
            var last = List().LastOrDefault();
            return last.Path ?? throw new ConfigurationException($"resume requested but {outputDir} has no checkpoint-* folder yet");
        }
        return Directory.Exists(resume) ? resume : throw new ConfigurationException($"resume_from_checkpoint '{resume}' is not a folder");
    }
}
