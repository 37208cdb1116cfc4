using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using PeftSharp.Tokenization.Bpe;

namespace PeftSharp.Tokenization.HuggingFace;

/// <summary>HF's BPE model: chars of a pre-token to ids (byte fallback or unk for unknown chars), then merges by rank.</summary>
internal sealed class HfBpeModel
{
    private const int CacheLimit = 200_000;
    private readonly Dictionary<(int, int), (int Rank, int Merged)> _merges = [];
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    private readonly int? _unkId;
    private readonly bool _byteFallback;
    private readonly bool _fuseUnk;
    private readonly bool _ignoreMerges;

    public IReadOnlyDictionary<string, int> Vocab { get; }
    /// <summary>The merges in rank order (first = applied first).</summary>
    public IReadOnlyList<(string Left, string Right)> Merges => _mergeList;
    /// <summary>True when unknown characters fall back to &lt;0xXX&gt; byte tokens (SentencePiece-style BPE).</summary>
    public bool ByteFallback => _byteFallback;
    private readonly List<(string, string)> _mergeList = [];

    public HfBpeModel(JsonNode model, string file)
    {
        var vocabNode = JsonHelpers.Get(model, "vocab") as JsonObject ?? throw new InvalidFileFormatException(file, "model.vocab must be an object {token: id}");
        var vocab = new Dictionary<string, int>(vocabNode.Count, StringComparer.Ordinal);
        foreach (var (token, id) in vocabNode)
            vocab[token] = JsonHelpers.Id(id, file, $"model.vocab['{token}']");
        Vocab = vocab;

        if (JsonHelpers.Str(model, "continuing_subword_prefix") is { Length: > 0 } || JsonHelpers.Str(model, "end_of_word_suffix") is { Length: > 0 })
            throw new ConfigurationException($"{file}: BPE with continuing_subword_prefix/end_of_word_suffix is not supported");
        if (JsonHelpers.Get(model, "dropout") is JsonValue d && d.TryGetValue(out double dropout) && dropout > 0)
            throw new ConfigurationException($"{file}: BPE dropout is not supported for inference tokenization; set it to null");

        _byteFallback = JsonHelpers.Bool(model, "byte_fallback", false);
        _fuseUnk = JsonHelpers.Bool(model, "fuse_unk", false);
        _ignoreMerges = JsonHelpers.Bool(model, "ignore_merges", false);
        if (JsonHelpers.Str(model, "unk_token") is { } unk && vocab.TryGetValue(unk, out int unkId)) _unkId = unkId;

        int rank = 0;
        foreach (var merge in JsonHelpers.Items(model, "merges", file, "model"))
        {
            var (a, b) = ParseMerge(merge, file, rank);
            if (!vocab.TryGetValue(a, out int ia) || !vocab.TryGetValue(b, out int ib))
                throw new InvalidFileFormatException(file, $"merge {rank} ('{a}', '{b}') uses a token missing from the vocab");
            if (!vocab.TryGetValue(a + b, out int merged))
                throw new InvalidFileFormatException(file, $"merge {rank} result '{a + b}' is missing from the vocab");
            _merges.TryAdd((ia, ib), (rank, merged));
            _mergeList.Add((a, b));
            rank++;
        }
    }

    // Merges are "a b" strings (old files) or ["a", "b"] pairs (tokenizers >= 0.20).
    private static (string, string) ParseMerge(JsonNode merge, string file, int rank)
    {
        if (merge is JsonArray { Count: 2 } pair && pair[0] is JsonValue a && a.TryGetValue(out string? left)
            && pair[1] is JsonValue b && b.TryGetValue(out string? right))
            return (left, right);
        if (merge is JsonValue v && v.TryGetValue(out string? s))
        {
            var parts = s.Split(' ');
            if (parts.Length == 2) return (parts[0], parts[1]);
        }
        throw new InvalidFileFormatException(file, $"model.merges[{rank}] must be \"a b\" or [\"a\", \"b\"], got {JsonHelpers.Describe(merge)}");
    }

    public void Tokenize(string word, List<int> output)
    {
        if (word.Length == 0) return;
        if (!_cache.TryGetValue(word, out var ids))
        {
            ids = TokenizeUncached(word);
            if (_cache.Count >= CacheLimit) _cache.Clear();
            _cache[word] = ids;
        }
        output.AddRange(ids);
    }

    private int[] TokenizeUncached(string word)
    {
        if (_ignoreMerges && Vocab.TryGetValue(word, out int whole)) return [whole];
        var symbols = new List<int>(word.Length);
        bool lastWasUnk = false;
        foreach (var ch in Utf8Text.Chars(word))
        {
            if (Vocab.TryGetValue(ch, out int id)) { symbols.Add(id); lastWasUnk = false; continue; }
            if (_byteFallback && TryBytes(ch, symbols)) { lastWasUnk = false; continue; }
            if (_unkId is int unk)
            {
                if (!(_fuseUnk && lastWasUnk)) symbols.Add(unk);
                lastWasUnk = true;
            }
            // Without an unk token HF drops the char.
        }
        return PairMerger.Merge(symbols, TryMerge).ToArray();
    }

    private bool TryBytes(string ch, List<int> symbols)
    {
        var bytes = Encoding.UTF8.GetBytes(ch);
        var ids = new int[bytes.Length];
        for (int i = 0; i < bytes.Length; i++)
            if (!Vocab.TryGetValue(Utf8Text.BytePiece(bytes[i]), out ids[i])) return false;
        symbols.AddRange(ids);
        return true;
    }

    private bool TryMerge(int left, int right, out double priority, out int merged)
    {
        if (_merges.TryGetValue((left, right), out var m)) { priority = m.Rank; merged = m.Merged; return true; }
        priority = 0; merged = 0;
        return false;
    }
}
