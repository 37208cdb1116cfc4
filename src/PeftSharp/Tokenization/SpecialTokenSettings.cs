namespace PeftSharp.Tokenization;

/// <summary>
/// Special tokens a model folder declares outside the tokenizer file itself (tokenizer_config.json,
/// special_tokens_map.json, config.json, generation_config.json). Null means "not declared".
/// </summary>
public sealed record SpecialTokenSettings
{
    public string? BosToken { get; init; }
    public string? EosToken { get; init; }
    public string? PadToken { get; init; }
    public string? UnkToken { get; init; }
    public int? BosId { get; init; }
    /// <summary>EOS ids from config.json/generation_config.json; several where generation stops on any of them.</summary>
    public IReadOnlyList<int> EosIds { get; init; } = [];
    public int? PadId { get; init; }
    public bool? AddBosToken { get; init; }
    public bool? AddEosToken { get; init; }
    public bool CleanUpTokenizationSpaces { get; init; }

    public static readonly SpecialTokenSettings Empty = new();

    /// <summary>Resolves BOS/EOS/PAD ids: token names from the tokenizer config first, then config ids, then the tokenizer's own.</summary>
    internal (int? Bos, IReadOnlyList<int> Eos, int? Pad) Resolve(Func<string, int?> lookup, int? bosFallback, int? eosFallback, int? padFallback)
    {
        int? bos = (BosToken is null ? null : lookup(BosToken)) ?? BosId ?? (BosToken is null ? bosFallback : null);
        var eos = new List<int>();
        if (EosToken is not null && lookup(EosToken) is int e) eos.Add(e);
        foreach (var id in EosIds) if (!eos.Contains(id)) eos.Add(id);
        if (eos.Count == 0 && EosToken is null && eosFallback is int fe) eos.Add(fe);
        int? pad = (PadToken is null ? null : lookup(PadToken)) ?? PadId ?? padFallback;
        return (bos, eos, pad);
    }

    /// <summary>transformers' clean_up_tokenization: drops the space before punctuation and common English contractions.</summary>
    internal static string CleanUp(string text) => text
        .Replace(" .", ".", StringComparison.Ordinal).Replace(" ?", "?", StringComparison.Ordinal)
        .Replace(" !", "!", StringComparison.Ordinal).Replace(" ,", ",", StringComparison.Ordinal)
        .Replace(" ' ", "'", StringComparison.Ordinal).Replace(" n't", "n't", StringComparison.Ordinal)
        .Replace(" 'm", "'m", StringComparison.Ordinal).Replace(" 's", "'s", StringComparison.Ordinal)
        .Replace(" 've", "'ve", StringComparison.Ordinal).Replace(" 're", "'re", StringComparison.Ordinal);
}
