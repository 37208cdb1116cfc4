namespace PeftSharp.IO.HuggingFace;

/// <summary>The decoding defaults a model folder ships in generation_config.json (HF field names).</summary>
public sealed record GenerationConfig
{
    public int? BosTokenId { get; init; }
    public IReadOnlyList<int> EosTokenIds { get; init; } = Array.Empty<int>();
    public int? PadTokenId { get; init; }
    public bool DoSample { get; init; }
    public double? Temperature { get; init; }
    public int? TopK { get; init; }
    public double? TopP { get; init; }
    public double? RepetitionPenalty { get; init; }
    public int? MaxNewTokens { get; init; }

    public static GenerationConfig? FromFolder(string folder)
    {
        var path = Path.Combine(folder, "generation_config.json");
        if (!File.Exists(path)) return null;
        var j = JsonReading.FromFile(path);
        return new GenerationConfig
        {
            BosTokenId = j.Has("bos_token_id") ? j.Ints("bos_token_id").FirstOrDefault() : null,
            EosTokenIds = j.Ints("eos_token_id"),
            PadTokenId = j.Has("pad_token_id") ? j.Ints("pad_token_id").FirstOrDefault() : null,
            DoSample = j.Bool("do_sample", false),
            Temperature = j.Has("temperature") ? j.Double("temperature", 1) : null,
            TopK = j.Has("top_k") ? j.RequireInt("top_k") : null,
            TopP = j.Has("top_p") ? j.Double("top_p", 1) : null,
            RepetitionPenalty = j.Has("repetition_penalty") ? j.Double("repetition_penalty", 1) : null,
            MaxNewTokens = j.Has("max_new_tokens") ? j.RequireInt("max_new_tokens") : null,
        };
    }
}
