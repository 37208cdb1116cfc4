namespace PeftSharp.Tokenization;

/// <summary>Text to token ids and back, with the special tokens a model folder declares.</summary>
public interface ITextTokenizer
{
    /// <summary>
    /// Number of ids: one more than the highest id, added tokens included (may exceed the model's embedding rows or
    /// fall short of them).
    /// </summary>
    int VocabSize { get; }
    /// <summary>
    /// The beginning-of-sequence id (e.g. &lt;s&gt;, &lt;|begin_of_text|&gt;), or null when the tokenizer has none
    /// (GPT-2, Qwen2).
    /// </summary>
    int? BosId { get; }
    /// <summary>
    /// The end-of-sequence id appended to training examples and used to stop generation (the first of
    /// <see cref="EosIds"/>); null when there is none.
    /// </summary>
    int? EosId { get; }
    /// <summary>Every id that ends generation (config.json/generation_config.json may list several); EosId first.</summary>
    IReadOnlyList<int> EosIds => EosId is int e ? [e] : [];
    /// <summary>
    /// The padding id (HF pad_token_id), or null when the model declares none; batchers then pad with EOS.
    /// </summary>
    int? PadId { get; }
    /// <summary>Encodes text. With <paramref name="addSpecialTokens"/>, BOS (and EOS where the tokenizer's config asks for it) are added as the reference tokenizer does.</summary>
    IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true);
    /// <summary>Ids to text, as HF's tokenizer.decode does.</summary>
    /// <param name="ids">Token ids; unknown ids are skipped.</param>
    /// <param name="skipSpecialTokens">Leave out special tokens (BOS, EOS, chat markers declared special); default true, like HF's skip_special_tokens.</param>
    string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true);
    /// <summary>The vocabulary entry of one id, as stored (e.g. "▁the", "&lt;0x0A&gt;", "Ġthe").</summary>
    string IdToToken(int id);
    /// <summary>
    /// The id of a vocabulary entry written as stored (e.g. "▁the", "&lt;|im_end|&gt;"); null when it is not in the
    /// vocabulary. Not an encoder: text is not normalized.
    /// </summary>
    int? TokenToId(string token);
}
