namespace PeftSharp.Tokenization;

/// <summary>
/// Special tokens a model folder declares outside the tokenizer file itself (tokenizer_config.json,
/// special_tokens_map.json, config.json, generation_config.json). Null means "not declared".
/// </summary>
public sealed record SpecialTokenSettings
{
    /// <summary>
    /// tokenizer_config / special_tokens_map bos_token (text, e.g. "&lt;s&gt;"); looked up in the vocabulary and
    /// preferred over <see cref="BosId"/>.
    /// </summary>
    public string? BosToken { get; init; }
    /// <summary>
    /// eos_token text (e.g. "&lt;|im_end|&gt;" for Qwen2 chat models); its id comes first in the resolved EOS list.
    /// </summary>
    public string? EosToken { get; init; }
    /// <summary>pad_token text; preferred over <see cref="PadId"/>.</summary>
    public string? PadToken { get; init; }
    /// <summary>unk_token text (recorded for completeness; tokenizers use their own unknown id).</summary>
    public string? UnkToken { get; init; }
    /// <summary>
    /// bos_token_id from config.json / generation_config.json, used when no bos_token text is declared.
    /// </summary>
    public int? BosId { get; init; }
    /// <summary>EOS ids from config.json/generation_config.json; several where generation stops on any of them.</summary>
    public IReadOnlyList<int> EosIds { get; init; } = [];
    /// <summary>
    /// pad_token_id from config.json / generation_config.json, used when no pad_token text is declared.
    /// </summary>
    public int? PadId { get; init; }
    /// <summary>
    /// tokenizer_config's add_bos_token: whether Encode with special tokens puts BOS first; null: the tokenizer's
    /// default.
    /// </summary>
    public bool? AddBosToken { get; init; }
    /// <summary>
    /// tokenizer_config's add_eos_token: whether Encode with special tokens appends EOS; null: the tokenizer's default
    /// (usually no).
    /// </summary>
    public bool? AddEosToken { get; init; }
    /// <summary>
    /// tokenizer_config's clean_up_tokenization_spaces: Decode removes the space before punctuation and contractions,
    /// as transformers does; default false.
    /// </summary>
    public bool CleanUpTokenizationSpaces { get; init; }

    /// <summary>Nothing declared: every tokenizer falls back to its own file's special tokens.</summary>
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
