using System.Text.Json;
using System.Text.Json.Nodes;

namespace PeftSharp.Tokenization.Llama2c;

/// <summary>
/// A llama2.c tokenizer.bin rewritten as a Hugging Face tokenizer.json (SentencePiece-style BPE with byte fallback,
/// as Llama-2's), so a converted model folder works with HF tooling. run.c merges the adjacent pair whose result has
/// the highest score; BPE merges the pair of lowest rank, so every pair whose concatenation is a piece becomes a
/// merge ranked by that piece's score. Spaces become "▁" and a Metaspace pre-tokenizer adds run.c's dummy prefix.
/// </summary>
public static class Llama2cTokenizerJson
{
    const string Space = "\u2581";

    /// <summary>
    /// The tokenizer.json document for <paramref name="tok"/>: BPE vocab and score-ranked merges, byte fallback,
    /// &lt;unk&gt;/BOS/EOS as special added tokens, Metaspace pre-tokenizer and the matching decoders.
    /// </summary>
    /// <returns>A JSON object ready to write as tokenizer.json.</returns>
    public static JsonObject Build(Llama2cTokenizer tok)
    {
        var specials = new HashSet<int> { 0 };
        if (tok.BosId is { } b) specials.Add(b);
        foreach (var e in tok.EosIds) specials.Add(e);
        var vocab = new JsonObject();
        var pieceToId = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = 0; id < tok.VocabSize; id++)
        {
            var piece = specials.Contains(id) || IsByte(tok.IdToToken(id)) ? tok.IdToToken(id) : tok.IdToToken(id).Replace(" ", Space);
            if (pieceToId.TryAdd(piece, id)) vocab[piece] = id;
        }
        var merges = new List<(float Score, int Id, string A, string B)>();
        foreach (var (piece, id) in pieceToId)
        {
            if (specials.Contains(id) || IsByte(piece)) continue;
            var runes = piece.EnumerateRunes().Select(r => r.ToString()).ToArray();
            for (int k = 1; k < runes.Length; k++)
            {
                string a = string.Concat(runes[..k]), bPart = string.Concat(runes[k..]);
                if (pieceToId.TryGetValue(a, out int ia) && !specials.Contains(ia) && pieceToId.TryGetValue(bPart, out int ib) && !specials.Contains(ib))
                    merges.Add((tok.Score(id), id, a, bPart));
            }
        }
        var ranked = merges.OrderByDescending(m => m.Score).ThenBy(m => m.Id).Select(m => (JsonNode)new JsonArray(m.A, m.B)).ToArray();
        JsonObject Special(int id) => new()
        {
            ["id"] = id, ["content"] = tok.IdToToken(id), ["single_word"] = false, ["lstrip"] = false,
            ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
        };
        var bos = tok.BosId is { } bosId ? tok.IdToToken(bosId) : null;
        return new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = new JsonArray(specials.Order().Select(id => (JsonNode)Special(id)).ToArray()),
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject { ["type"] = "Metaspace", ["replacement"] = Space, ["prepend_scheme"] = "first", ["split"] = false },
            ["post_processor"] = bos is null ? null : new JsonObject
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new JsonArray(new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = bos, ["type_id"] = 0 } },
                    new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } }),
                ["pair"] = new JsonArray(new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = bos, ["type_id"] = 0 } },
                    new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } },
                    new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "B", ["type_id"] = 1 } }),
                ["special_tokens"] = new JsonObject { [bos] = new JsonObject { ["id"] = bos, ["ids"] = new JsonArray(tok.BosId!.Value), ["tokens"] = new JsonArray(bos) } },
            },
            ["decoder"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["decoders"] = new JsonArray(
                    new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = Space }, ["content"] = " " },
                    new JsonObject { ["type"] = "ByteFallback" },
                    new JsonObject { ["type"] = "Fuse" },
                    new JsonObject { ["type"] = "Strip", ["content"] = " ", ["start"] = 1, ["stop"] = 0 }),
            },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = tok.IdToToken(0), ["continuing_subword_prefix"] = null,
                ["end_of_word_suffix"] = null, ["fuse_unk"] = true, ["byte_fallback"] = true, ["ignore_merges"] = false,
                ["vocab"] = vocab, ["merges"] = new JsonArray(ranked),
            },
        };
    }

    static bool IsByte(string piece) => piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece.EndsWith('>');

    /// <summary>Writes tokenizer.json and tokenizer_config.json into <paramref name="folder"/>.</summary>
    public static void Write(Llama2cTokenizer tok, string folder)
    {
        var options = new JsonSerializerOptions { WriteIndented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        IO.AtomicFile.WriteAllText(Path.Combine(folder, "tokenizer.json"), Build(tok).ToJsonString(options));
        var config = new JsonObject
        {
            ["tokenizer_class"] = "PreTrainedTokenizerFast",
            ["unk_token"] = tok.IdToToken(0),
            ["bos_token"] = tok.BosId is { } b ? tok.IdToToken(b) : null,
            ["eos_token"] = tok.EosId is { } e ? tok.IdToToken(e) : null,
            ["add_bos_token"] = tok.BosId is not null,
            ["add_eos_token"] = false,
            ["clean_up_tokenization_spaces"] = false,
        };
        IO.AtomicFile.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}
