using System.Text.Json;
using System.Text.Json.Nodes;
using PeftSharp.IO.Gguf;
using PeftSharp.Tokenization.HuggingFace;
using PeftSharp.Tokenization.Llama2c;
using PeftSharp.Tokenization.SentencePiece;

namespace PeftSharp.Tokenization;

/// <summary>
/// A tokenizer as llama.cpp's tokenizer.ggml.* keys describe it: "llama" (SentencePiece: pieces with "▁", merge
/// scores, token types) or "gpt2" (byte-level BPE: tokens and merges), plus the special ids.
/// </summary>
public static class GgufVocabulary
{
    const string Space = "\u2581";

    /// <summary>
    /// Adds tokenizer.ggml.* (and tokenizer.chat_template when given) for <paramref name="tokenizer"/>. The vocabulary
    /// is padded with unused "[PAD{id}]" tokens up to <paramref name="vocabSize"/> (the model's embedding rows), as
    /// llama.cpp's converter does, since llama.cpp sizes the embedding from the token list.
    /// </summary>
    /// <exception cref="ConfigurationException">The tokenizer's kind has no GGUF form here (tiktoken, a tokenizer.json that is neither byte-level nor byte-fallback BPE), or it has more tokens than the model.</exception>
    public static void AddTo(GgufMetadata md, ITextTokenizer tokenizer, int vocabSize, string? chatTemplate)
    {
        if (tokenizer.VocabSize > vocabSize)
            throw new ConfigurationException($"the tokenizer has {tokenizer.VocabSize} tokens but the model only {vocabSize} embedding rows: pass the model's own tokenizer");
        var (model, tokens, scores, types, merges) = tokenizer switch
        {
            Llama2cTokenizer l => Llama2c(l),
            SentencePieceBpeTokenizer s => SentencePiece(s),
            HfTokenizer { ByteLevel: true } h => ByteLevelBpe(h),
            HfTokenizer { ByteFallback: true } h => ByteFallbackBpe(h),
            _ => throw new ConfigurationException(
                $"a {tokenizer.GetType().Name} tokenizer has no GGUF form in this version (supported: llama2.c tokenizer.bin, sentencepiece tokenizer.model, " +
                "byte-level or byte-fallback BPE tokenizer.json): pass --tokenizer with one of those"),
        };
        for (int id = tokens.Count; id < vocabSize; id++)
        {
            tokens.Add($"[PAD{id}]");
            scores?.Add(-1000f);
            types.Add((int)PieceType.Unused);
        }
        md.String("tokenizer.ggml.model", model);
        md.Strings("tokenizer.ggml.tokens", [.. tokens]);
        if (scores is not null) md.Float32s("tokenizer.ggml.scores", [.. scores]);
        md.Int32s("tokenizer.ggml.token_type", [.. types]);
        if (merges is not null) md.Strings("tokenizer.ggml.merges", [.. merges]);
        if (tokenizer is HfTokenizer hf && PreTokenizerName(hf) is { } pre) md.String("tokenizer.ggml.pre", pre);
        if (tokenizer.BosId is { } bos) md.UInt32("tokenizer.ggml.bos_token_id", (uint)bos);
        if (tokenizer.EosId is { } eos) md.UInt32("tokenizer.ggml.eos_token_id", (uint)eos);
        if (UnknownId(tokenizer) is { } unk) md.UInt32("tokenizer.ggml.unknown_token_id", (uint)unk);
        if (tokenizer.PadId is { } pad) md.UInt32("tokenizer.ggml.padding_token_id", (uint)pad);
        var withSpecials = tokenizer.Encode("a", addSpecialTokens: true);
        md.Bool("tokenizer.ggml.add_bos_token", tokenizer.BosId is { } b && withSpecials.Count > 0 && withSpecials[0] == b);
        md.Bool("tokenizer.ggml.add_eos_token", tokenizer.EosId is { } e && withSpecials.Count > 0 && withSpecials[^1] == e);
        if (chatTemplate is not null) md.String("tokenizer.chat_template", chatTemplate);
    }

    /// <summary>
    /// The chat_template string of a model folder's tokenizer_config.json, or null when there is none (or it is a
    /// list of named templates, which llama.cpp stores under other keys).
    /// </summary>
    public static string? ChatTemplateOf(string folder)
    {
        var path = Path.Combine(folder, "tokenizer_config.json");
        if (!File.Exists(path)) return null;
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("chat_template", out var t) && t.ValueKind == JsonValueKind.String
            ? t.GetString() : null;
    }

    static int? UnknownId(ITextTokenizer t) => t switch
    {
        Llama2cTokenizer => 0,
        SentencePieceBpeTokenizer s => s.Model.UnkId,
        _ => t.TokenToId("<unk>"),
    };

    static bool IsBytePiece(string piece) => Utf8Text.TryParseBytePiece(piece, out _);

    record struct Vocab(string Model, List<string> Tokens, List<float>? Scores, List<int> Types, List<string>? Merges);

    // llama2.c's export wrote spaces for "▁" and "\n<s>\n"-style specials; restore SentencePiece's pieces.
    static Vocab Llama2c(Llama2cTokenizer t)
    {
        var specials = new HashSet<int>(t.EosIds);
        if (t.BosId is { } b) specials.Add(b);
        var v = new Vocab("llama", [], [], [], null);
        for (int id = 0; id < t.VocabSize; id++)
        {
            var piece = t.IdToToken(id);
            var type = id == 0 ? PieceType.Unknown : specials.Contains(id) ? PieceType.Control : IsBytePiece(piece) ? PieceType.Byte : PieceType.Normal;
            v.Tokens.Add(type == PieceType.Normal ? piece.Replace(" ", Space) : piece.Trim());
            v.Scores!.Add(t.Score(id));
            v.Types.Add((int)type);
        }
        return v;
    }

    static Vocab SentencePiece(SentencePieceBpeTokenizer t)
    {
        var pieces = t.Model.Pieces;
        return new Vocab("llama", pieces.Select(p => p.Text).ToList(), pieces.Select(p => p.Score).ToList(), pieces.Select(p => (int)p.Type).ToList(), null);
    }

    // Byte-level BPE: llama.cpp's "gpt2" model takes the tokens and the merges as "left right" strings.
    static Vocab ByteLevelBpe(HfTokenizer t)
    {
        var v = HfTokens(t, "gpt2", scores: null);
        return v with { Merges = t.Merges.Select(m => m.Left + " " + m.Right).ToList() };
    }

    // llama.cpp's pre-tokenizer names for the split patterns it implements (its converter recognises tokenizers by a
    // hash of their output instead; the pattern itself is what decides the splitting).
    static readonly Dictionary<string, string> PreTokenizerNames = new(StringComparer.Ordinal)
    {
        [@"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"] = "llama-bpe",
        [@"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"] = "qwen2",
    };

    /// <summary>
    /// tokenizer.ggml.pre for a byte-level tokenizer.json: "llama-bpe" (Llama 3's split pattern), "qwen2", "gpt-2" (a
    /// lone ByteLevel with GPT-2's regex); null for others, which llama.cpp loads with its default pre-tokenizer.
    /// </summary>
    public static string? PreTokenizerName(HfTokenizer t)
    {
        if (!t.ByteLevel || t.PreTokenizerJson is null) return null;
        var node = JsonNode.Parse(t.PreTokenizerJson);
        if (node?["type"]?.GetValue<string>() == "ByteLevel")
            return node["use_regex"]?.GetValue<bool>() ?? true ? "gpt-2" : null;
        var pattern = (node?["pretokenizers"] as JsonArray)?.FirstOrDefault(p => p?["type"]?.GetValue<string>() == "Split")?["pattern"]?["Regex"]?.GetValue<string>();
        return pattern is not null && PreTokenizerNames.TryGetValue(pattern, out var name) ? name : null;
    }

    // SentencePiece-style BPE in tokenizer.json: llama.cpp's "llama" model merges the pair whose result scores highest,
    // so a token made by merge r scores -r (earlier merges first); other tokens score 0.
    static Vocab ByteFallbackBpe(HfTokenizer t)
    {
        var rank = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int r = 0; r < t.Merges.Count; r++) rank.TryAdd(t.Merges[r].Left + t.Merges[r].Right, r);
        return HfTokens(t, "llama", token => rank.TryGetValue(token, out int r) ? -r - 1 : 0f);
    }

    static Vocab HfTokens(HfTokenizer t, string model, Func<string, float>? scores)
    {
        var added = t.AddedTokens.ToDictionary(a => a.Id);
        var unk = UnknownId(t);
        var v = new Vocab(model, [], scores is null ? null : [], [], null);
        for (int id = 0; id < t.VocabSize; id++)
        {
            string token;
            try { token = t.IdToToken(id); }
            catch (ArgumentOutOfRangeException) { token = $"[PAD{id}]"; }   // a hole in the id space
            var type = id == unk ? PieceType.Unknown
                : added.TryGetValue(id, out var a) ? (a.Special ? PieceType.Control : PieceType.UserDefined)
                : token.StartsWith("[PAD", StringComparison.Ordinal) && t.TokenToId(token) is null ? PieceType.Unused
                : t.ByteFallback && IsBytePiece(token) ? PieceType.Byte : PieceType.Normal;
            v.Tokens.Add(token);
            v.Scores?.Add(added.ContainsKey(id) ? -1000f : scores!(token));
            v.Types.Add((int)type);
        }
        return v;
    }
}
