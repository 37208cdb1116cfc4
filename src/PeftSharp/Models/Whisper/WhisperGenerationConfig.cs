namespace PeftSharp.Models.Whisper;

/// <summary>The Whisper decoding defaults a model folder ships in generation_config.json (HF field names).</summary>
public sealed record WhisperGenerationConfig
{
    public IReadOnlyList<int>? SuppressTokens { get; init; }
    public IReadOnlyList<int>? BeginSuppressTokens { get; init; }
    public int? MaxLength { get; init; }
    public int? MaxNewTokens { get; init; }
    public int? NumBeams { get; init; }
    /// <summary>generation_config.json's "language", when the checkpoint was saved with one (fine-tuned models).</summary>
    public string? Language { get; init; }
    public string? Task { get; init; }

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
