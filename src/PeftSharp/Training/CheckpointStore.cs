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
    /// <summary>
    /// Name of the pointer file in output_dir that holds the newest checkpoint's folder name ("latest").
    /// </summary>
    public const string LatestFile = "latest";
    readonly string outputDir;
    readonly int keep;

    /// <summary>A store over <paramref name="outputDir"/> (nothing is read or created yet).</summary>
    /// <param name="outputDir">The run's output folder.</param>
    /// <param name="keep">save_total_limit: how many checkpoints to keep after a save (the oldest are deleted); the newest is always kept, so 0 or less means 1.</param>
    public CheckpointStore(string outputDir, int keep)
    {
        this.outputDir = outputDir;
        this.keep = keep;
    }

    [GeneratedRegex(@"^checkpoint-(\d+)$")]
    private static partial Regex CheckpointName();

    /// <summary>
    /// The checkpoint-&lt;step&gt; folders present, oldest step first; empty when the output folder does not exist.
    /// </summary>
    public IReadOnlyList<(int Step, string Path)> List() =>
        Directory.Exists(outputDir)
            ? Directory.EnumerateDirectories(outputDir)
                .Select(d => (Match: CheckpointName().Match(Path.GetFileName(d)), Path: d))
                .Where(x => x.Match.Success)
                .Select(x => (int.Parse(x.Match.Groups[1].Value, CultureInfo.InvariantCulture), x.Path))
                .OrderBy(x => x.Item1).ToList()
            : Array.Empty<(int, string)>();

    /// <summary>
    /// Writes a checkpoint: <paramref name="write"/> fills a temporary folder that then becomes checkpoint-&lt;step&gt;,
    /// then "latest" names it. A failed write (disk full, read-only folder) deletes the temporary folder and raises an
    /// error that says the previous checkpoint is intact; nothing that was there before is touched.
    /// </summary>
    public string Save(int step, Action<string> write)
    {
        var final = Path.Combine(outputDir, $"checkpoint-{step}");
        string? tmp = null;
        try
        {
            Directory.CreateDirectory(outputDir);
            tmp = IO.AtomicFolder.CreateTemp(final);
            write(tmp);
            IO.AtomicFolder.Commit(tmp, final);
            FaultPoint.Hit("checkpoint-pointer");
            IO.AtomicFile.WriteAllText(Path.Combine(outputDir, LatestFile), Path.GetFileName(final) + "\n");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (tmp is not null) IO.AtomicFolder.DeleteQuietly(tmp);
            var previous = Resolve("latest", required: false);
            throw new PeftSharpException($"could not write checkpoint-{step} in {outputDir} ({e.Message}). " +
                (previous is null ? "No earlier checkpoint exists. " : $"The previous checkpoint {Path.GetFileName(previous)} is intact and resumable. ") +
                "Free disk space or make the folder writable, then run again with --resume", e);
        }
        // The oldest go only once the new one is named by "latest"; the one "latest" names is always kept.
        foreach (var (_, old) in List().SkipLast(Math.Max(1, keep)))
            if (old != final) IO.AtomicFolder.Delete(old);
        return final;
    }

    /// <summary>The checkpoint to resume from: "latest" (or true) resolves the pointer, else a path.</summary>
    public string? Resolve(string? resume) => Resolve(resume, required: true);

    string? Resolve(string? resume, bool required)
    {
        if (string.IsNullOrEmpty(resume) || resume is "false") return null;
        if (resume is "latest" or "true")
        {
            var pointer = Path.Combine(outputDir, LatestFile);
            if (File.Exists(pointer))
            {
                // Only a checkpoint-<step> name is followed: a damaged pointer falls back to the newest folder.
                var name = File.ReadAllText(pointer).Trim();
                var dir = Path.Combine(outputDir, name);
                if (CheckpointName().IsMatch(name) && Directory.Exists(dir)) return dir;
            }
            var last = List().LastOrDefault();
            if (!required) return last.Path;
            return last.Path ?? throw new ConfigurationException(
                $"resume requested (--resume or resume_from_checkpoint: latest) but output_dir {outputDir} has no checkpoint yet: train without --resume to start a new run, or set output_dir to the run to continue");
        }
        return Directory.Exists(resume) ? resume
            : throw new ConfigurationException($"resume_from_checkpoint '{resume}' not found: give an existing checkpoint-<step> folder, or 'latest' to continue output_dir's run");
    }
}
