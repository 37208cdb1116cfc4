using System.Text.Json;
using PeftSharp.Audio;

namespace PeftSharp.Data.Speech;

/// <summary>
/// Reads a speech-recognition manifest (JSONL, JSON, CSV, TSV or Parquet through <see cref="DatasetReader"/>): one row
/// per clip with a WAV path and its transcript, optionally a language. Relative paths are resolved against the
/// manifest's folder. Every WAV is opened once here, so a missing or unreadable file is reported with its row
/// (skipped or fatal per <see cref="AsrManifestOptions.OnError"/>) instead of failing mid-training.
/// </summary>
public static class AsrManifestReader
{
    /// <summary>What to do about a WAV that cannot be read.</summary>
    public const string ConvertHint = "convert it to PCM 16-bit WAV (e.g. `ffmpeg -i in -c:a pcm_s16le out.wav`)";

    /// <summary>Reads and checks every row of a manifest, opening each WAV once to read its duration.</summary>
    /// <param name="path">The manifest file (JSONL, JSON, CSV, TSV or Parquet).</param>
    /// <param name="options">Field names, bad-row policy and length limit; null: the defaults.</param>
    /// <returns>The usable examples, with counts of rows read and skipped by reason.</returns>
    /// <exception cref="ConfigurationException">No row is usable; the message gives the skip reasons and the fix.</exception>
    /// <exception cref="InvalidFileFormatException">A bad row under on_error: fail, or the manifest itself cannot be parsed.</exception>
    public static AsrManifest Read(string path, AsrManifestOptions? options = null)
    {
        options ??= new AsrManifestOptions();
        var issues = new RecordIssues(options.OnError);
        string folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
        var examples = new List<AsrExample>();
        long read = 0;
        foreach (var record in DatasetReader.Read(path, options.Reader, issues))
        {
            read++;
            if (ToExample(record, folder, options, issues) is { } example) examples.Add(example);
        }
        issues.WarnIfAny();
        if (examples.Count == 0)
            throw new ConfigurationException(
                $"ASR manifest '{path}' has no usable rows ({read} read, {issues.Count} skipped: {Reasons(issues)}); " +
                $"each row needs '{options.AudioField}' (a WAV path, relative to the manifest's folder) and a non-empty '{options.TextField}'; " +
                "fix the rows or set the audio/text field names to the manifest's own");
        return new AsrManifest(path, examples, read, issues.Count, new Dictionary<string, int>(issues.ByReason));
    }

    static AsrExample? ToExample(Record record, string folder, AsrManifestOptions o, RecordIssues issues)
    {
        void Report(string reason, string detail, string fix) => issues.Report(record.Source, record.Line, reason, detail, fix);

        if (AudioPath(record, o.AudioField) is not { Length: > 0 } audio)
        {
            Report($"missing field '{o.AudioField}'", $"no WAV path in '{o.AudioField}'", "give each row a WAV path or set the audio field name");
            return null;
        }
        if (!record.TryGet(o.TextField, out var textValue) || textValue.ValueKind != JsonValueKind.String)
        {
            Report($"missing field '{o.TextField}'", $"no transcript string in '{o.TextField}'", "give each row its transcript or set the text field name");
            return null;
        }
        string text = textValue.GetString()!;
        if (string.IsNullOrWhiteSpace(text))
        {
            Report("empty text", $"the transcript of '{audio}' is empty", "remove the row or write its transcript");
            return null;
        }
        string file = System.IO.Path.GetFullPath(System.IO.Path.Combine(folder, audio));
        if (!File.Exists(file))
        {
            Report("audio file not found", $"'{audio}' (looked for {file})", "fix the path; relative paths are resolved against the manifest's folder");
            return null;
        }
        AudioClip clip;
        try { clip = WavReader.Read(file); }
        catch (Exception e) when (e is InvalidFileFormatException or IOException or UnauthorizedAccessException)
        {
            Report("unreadable WAV", e.Message, ConvertHint + " or remove the row");
            return null;
        }
        if (clip.Samples.Length == 0)
        {
            Report("empty audio", $"'{audio}' holds no samples", "remove the row or re-record the clip");
            return null;
        }
        if (clip.DurationSeconds > o.MaxAudioSeconds)
        {
            Report("audio too long", $"'{audio}' lasts {clip.DurationSeconds:F1} s, over {o.MaxAudioSeconds:F0} s (Whisper sees only the first 30 s)",
                "split the clip and its transcript into shorter pieces");
            return null;
        }
        return new AsrExample(file, text, Language(record, o.LanguageField), clip.DurationSeconds, record.Location);
    }

    // A plain path, or Hugging Face datasets' audio object {"path": ...}.
    static string? AudioPath(Record record, string field)
    {
        if (!record.TryGet(field, out var v)) return null;
        if (v.ValueKind == JsonValueKind.String) return v.GetString();
        if (v.ValueKind == JsonValueKind.Object && v.TryGetProperty("path", out var p) && p.ValueKind == JsonValueKind.String) return p.GetString();
        return null;
    }

    static string? Language(Record record, string field) =>
        record.TryGet(field, out var v) && v.ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(v.GetString()) ? v.GetString()!.Trim() : null;

    static string Reasons(RecordIssues issues) =>
        issues.Count == 0 ? "none" : string.Join(", ", issues.ByReason.Select(kv => $"{kv.Value} {kv.Key}"));
}
