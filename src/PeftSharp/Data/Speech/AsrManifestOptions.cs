namespace PeftSharp.Data.Speech;

/// <summary>How to read an ASR manifest: its field names, what to do with bad rows and how to open the file.</summary>
public sealed record AsrManifestOptions
{
    /// <summary>The field holding the WAV path; relative paths are resolved against the manifest's folder.</summary>
    public string AudioField { get; init; } = "audio";
    /// <summary>
    /// The field holding the transcript (a non-empty string); default "text" (HF datasets often use "sentence" or
    /// "transcription").
    /// </summary>
    public string TextField { get; init; } = "text";
    /// <summary>Optional per-row language (e.g. "en", "german"); a missing or empty value means the run's default.</summary>
    public string LanguageField { get; init; } = "language";
    /// <summary>
    /// Bad rows (missing fields, missing or unreadable WAV, clip too long): skip them with one warning (default) or
    /// fail at the first.
    /// </summary>
    public OnError OnError { get; init; } = OnError.Skip;
    /// <summary>
    /// Clips longer than this are reported as bad rows: Whisper sees only the first 30 s, so the rest of the
    /// transcript would be trained against silence (Hugging Face's fine-tuning recipe filters them out too).
    /// </summary>
    public double MaxAudioSeconds { get; init; } = 30.0;
    /// <summary>File type (null: from the extension) and CSV/TSV column names.</summary>
    public ReaderOptions Reader { get; init; } = new();
}
