namespace PeftSharp.Tokenization;

/// <summary>Text to token ids and back, with the special tokens a model folder declares.</summary>
public interface ITextTokenizer
{
    int VocabSize { get; }
    int? BosId { get; }
    int? EosId { get; }
    /// <summary>Every id that ends generation (config.json/generation_config.json may list several); EosId first.</summary>
    IReadOnlyList<int> EosIds => EosId is int e ? [e] : [];
    int? PadId { get; }
    /// <summary>Encodes text. With <paramref name="addSpecialTokens"/>, BOS (and EOS where the tokenizer's config asks for it) are added as the reference tokenizer does.</summary>
    IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true);
    string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true);
    /// <summary>The vocabulary entry of one id, as stored (e.g. "▁the", "<0x0A>", "Ġthe").</summary>
    string IdToToken(int id);
    int? TokenToId(string token);
}
