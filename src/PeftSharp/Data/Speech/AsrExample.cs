namespace PeftSharp.Data.Speech;

/// <summary>
/// One utterance of a speech-recognition manifest: an absolute path to its WAV file, its transcript, an optional
/// language (code or English name, as the manifest wrote it), its duration, and the manifest row it came from.
/// </summary>
public sealed record AsrExample(string AudioPath, string Text, string? Language, double DurationSeconds, string Location);

/// <summary>The usable rows of a manifest file, with how many rows were read and skipped.</summary>
public sealed record AsrManifest(string Path, IReadOnlyList<AsrExample> Examples, long RecordsRead, int Skipped,
    IReadOnlyDictionary<string, int> SkippedByReason)
{
    /// <summary>Seconds of audio over all usable examples.</summary>
    public double TotalSeconds => Examples.Sum(e => e.DurationSeconds);
}
