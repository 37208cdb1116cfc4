namespace PeftSharp.Models.Whisper;

/// <summary>The Whisper decoding defaults a model folder ships in generation_config.json (HF field names).</summary>
public sealed record WhisperGenerationConfig
{
    /// <summary>
    /// Ids never sampled (suppress_tokens); null when absent. Decoding uses it unless the options give their own list.
    /// </summary>
    public IReadOnlyList<int>? SuppressTokens { get; init; }
    /// <summary>
    /// Ids not sampled first (begin_suppress_tokens); null when absent. Decoding uses it unless the options give their
    /// own list.
    /// </summary>
    public IReadOnlyList<int>? BeginSuppressTokens { get; init; }
    /// <summary>
    /// max_length as stated (total decoder length); read for reference, decoding budgets with <see
    /// cref="MaxNewTokens"/> instead.
    /// </summary>
    public int? MaxLength { get; init; }
    /// <summary>
    /// Default token budget after the forced prefix (max_new_tokens), used when the decoding options give none; null
    /// when absent.
    /// </summary>
    public int? MaxNewTokens { get; init; }
    /// <summary>
    /// num_beams as stated; read for reference only: beam search runs when the decoding options ask for it.
    /// </summary>
    public int? NumBeams { get; init; }
    /// <summary>generation_config.json's "language", when the checkpoint was saved with one (fine-tuned models).</summary>
    public string? Language { get; init; }
    /// <summary>
    /// task as stated ("transcribe" or "translate"); read for reference only: the decoding options choose the task.
    /// </summary>
    public string? Task { get; init; }

    /// <summary>
    /// Reads <c>generation_config.json</c> from <paramref name="folder"/>; null when the file does not exist.
    /// </summary>
    /// <exception cref="InvalidFileFormatException">The file is not valid JSON or a field has the wrong
    /// type.</exception>
    public static WhisperGenerationConfig? FromFolder(string folder)
    {
        var path = Path.Combine(folder, "generation_config.json");
        if (!File.Exists(path)) return null;
        var j = JsonReading.FromFile(path);
        return new WhisperGenerationConfig
        {
            SuppressTokens = j.Has("suppress_tokens") ? j.Ints("suppress_tokens") : null,
            BeginSuppressTokens = j.Has("begin_suppress_tokens") ? j.Ints("begin_suppress_tokens") : null,
            MaxLength = j.Has("max_length") ? j.RequireInt("max_length") : null,
            MaxNewTokens = j.Has("max_new_tokens") ? j.RequireInt("max_new_tokens") : null,
            NumBeams = j.Has("num_beams") ? j.RequireInt("num_beams") : null,
            Language = j.String("language"),
            Task = j.String("task"),
        };
    }
}
