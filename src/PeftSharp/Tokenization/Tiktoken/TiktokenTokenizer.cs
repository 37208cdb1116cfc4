using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;
using PeftSharp.Tokenization.Bpe;

namespace PeftSharp.Tokenization.Tiktoken;

/// <summary>
/// A tiktoken vocabulary ("base64token rank" lines) with a split pattern and special tokens, encoding as tiktoken
/// does: specials split out, regex pieces, then byte-pair merges by lowest rank of the merged bytes.
/// </summary>
public sealed class TiktokenTokenizer : ITextTokenizer
{
    /// <summary>GPT-2's pattern as tiktoken writes it (r50k_base / gpt2).</summary>
    public const string Gpt2Pattern = @"'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    // Byte strings are held as Latin-1 strings (one char per byte): cheap hashing and concatenation.
    private readonly Dictionary<string, int> _ranks = new(StringComparer.Ordinal);
    private readonly Dictionary<int, string> _bytesOf = [];
    private readonly Dictionary<int, AddedToken> _specials = [];
    private readonly AddedTokenSplitter _splitter;
    private readonly Regex _pattern;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);

    /// <inheritdoc/>
    public int VocabSize { get; }
    /// <inheritdoc/>
    public int? BosId { get; }
    /// <inheritdoc/>
    public int? EosId => EosIds.Count > 0 ? EosIds[0] : null;
    /// <inheritdoc/>
    public IReadOnlyList<int> EosIds { get; }
    /// <inheritdoc/>
    public int? PadId { get; }

    /// <summary>Reads a .tiktoken file ("base64token rank" per line).</summary>
    /// <param name="path">The .tiktoken file.</param>
    /// <param name="pattern">The pre-tokenizer split regex; null: <see cref="Gpt2Pattern"/>.</param>
    /// <param name="specialTokens">Special token text to id, e.g. {"&lt;|endoftext|&gt;": 50256}; null means &lt;|endoftext|&gt; after the last rank.</param>
    /// <param name="settings">Special tokens from the model folder; null: no BOS or padding, EOS &lt;|endoftext|&gt; when it is among the special tokens.</param>
    public TiktokenTokenizer(string path, string? pattern = null, IReadOnlyDictionary<string, int>? specialTokens = null, SpecialTokenSettings? settings = null)
        : this(path, ReadRanks(path), pattern, specialTokens, settings) { }

    /// <summary>
    /// Numbers <paramref name="specials"/> consecutively from the count of ranks in the file, as tiktoken encodings
    /// built in code do (e.g. OpenAI Whisper's <c>get_encoding</c>: <c>n_vocab = len(ranks)</c>, then one id per special).
    /// </summary>
    public static TiktokenTokenizer WithSpecialsAfterRanks(string path, IEnumerable<string> specials, string? pattern = null, SpecialTokenSettings? settings = null)
    {
        var ranks = ReadRanks(path);
        var numbered = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var special in specials) numbered.Add(special, ranks.Count + numbered.Count);
        return new TiktokenTokenizer(path, ranks, pattern, numbered, settings);
    }

    /// <summary>Number of byte-string ranks in the file (tiktoken's <c>len(mergeable_ranks)</c>).</summary>
    public int RankCount => _ranks.Count;

    private static List<(string Bytes, int Rank)> ReadRanks(string path)
    {
        if (!File.Exists(path)) throw new InvalidFileFormatException(path, "file not found");
        var ranks = new List<(string, int)>();
        int lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            if (line.Length == 0) continue;
            var parts = line.Split(' ');
            byte[] bytes;
            int rank;
            try
            {
                // A token of padding only ("=") is the empty byte string, as Python's b64decode reads it
                // (Whisper's multilingual.tiktoken ends with one).
                bytes = parts[0].TrimEnd('=').Length == 0 ? [] : Convert.FromBase64String(parts[0]);
                rank = parts.Length == 2 ? int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) : throw new FormatException();
            }
            catch (FormatException e) { throw new InvalidFileFormatException(path, $"line {lineNo}: expected \"<base64 token> <rank>\"", e); }
            ranks.Add((Encoding.Latin1.GetString(bytes), rank));
        }
        return ranks;
    }

    private TiktokenTokenizer(string path, List<(string Bytes, int Rank)> ranks, string? pattern, IReadOnlyDictionary<string, int>? specialTokens, SpecialTokenSettings? settings)
    {
        foreach (var (key, rank) in ranks)
        {
            _ranks[key] = rank;
            _bytesOf[rank] = key;
        }
        if (_ranks.Count == 0) throw new InvalidFileFormatException(path, "no ranks; is this a .tiktoken file?");

        specialTokens ??= new Dictionary<string, int> { ["<|endoftext|>"] = _bytesOf.Keys.Max() + 1 };
        foreach (var (content, id) in specialTokens) _specials[id] = new AddedToken(id, content);
        _splitter = new AddedTokenSplitter(_specials.Values);
        _pattern = new Regex(pattern ?? Gpt2Pattern, RegexOptions.CultureInvariant | RegexOptions.Compiled);
        VocabSize = Math.Max(_bytesOf.Keys.Max(), _specials.Count > 0 ? _specials.Keys.Max() : 0) + 1;

        settings ??= SpecialTokenSettings.Empty;
        int? endOfText = specialTokens.TryGetValue("<|endoftext|>", out int eot) ? eot : null;
        var (bos, eos, pad) = settings.Resolve(TokenToId, null, endOfText, null);
        BosId = bos;
        EosIds = eos;
        PadId = pad;
    }

    /// <summary>Special tokens in the text are always matched (tiktoken's allowed_special="all"); no BOS/EOS is added, as tiktoken adds none.</summary>
    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>();
        foreach (var segment in _splitter.Split(text))
        {
            if (segment.Token is { } special) ids.Add(special.Id);
            else EncodeOrdinary(segment.Text, ids);
        }
        return ids;
    }

    /// <summary>Encodes text with special-token text treated as ordinary text (tiktoken's encode_ordinary).</summary>
    public IReadOnlyList<int> EncodeOrdinary(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>();
        EncodeOrdinary(text, ids);
        return ids;
    }

    private void EncodeOrdinary(string text, List<int> ids)
    {
        for (var m = _pattern.Match(text); m.Success; m = m.NextMatch())
            if (m.Length > 0) EncodePiece(m.Value, ids);
    }

    private void EncodePiece(string piece, List<int> ids)
    {
        if (_cache.TryGetValue(piece, out var cached)) { ids.AddRange(cached); return; }
        string bytes = Encoding.Latin1.GetString(Encoding.UTF8.GetBytes(piece));
        int[] result;
        if (_ranks.TryGetValue(bytes, out int whole)) result = [whole];
        else
        {
            var symbols = new List<int>(bytes.Length);
            foreach (char b in bytes)
                symbols.Add(_ranks.TryGetValue(b.ToString(), out int r) ? r
                    : throw new ConfigurationException($"tiktoken vocabulary has no rank for byte 0x{(int)b:X2}"));
            result = PairMerger.Merge(symbols, TryMerge).ToArray();
        }
        if (_cache.Count > 200_000) _cache.Clear();
        _cache[piece] = result;
        ids.AddRange(result);
    }

    private bool TryMerge(int left, int right, out double priority, out int merged)
    {
        bool found = _ranks.TryGetValue(_bytesOf[left] + _bytesOf[right], out merged);
        priority = merged;
        return found;
    }

    /// <inheritdoc/>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true)
    {
        var bytes = new List<byte>();
        foreach (int id in ids)
        {
            if (_specials.TryGetValue(id, out var special))
            {
                if (!skipSpecialTokens) bytes.AddRange(Encoding.UTF8.GetBytes(special.Content));
            }
            else if (_bytesOf.TryGetValue(id, out var s)) bytes.AddRange(Encoding.Latin1.GetBytes(s));
        }
        return Utf8Text.DecodeLossy(bytes);
    }

    /// <summary>The token's bytes shown as byte-level BPE chars would be ambiguous; tiktoken's own view is its bytes, given here as lossy UTF-8.</summary>
    public string IdToToken(int id) =>
        _specials.TryGetValue(id, out var s) ? s.Content
        : _bytesOf.TryGetValue(id, out var b) ? Encoding.UTF8.GetString(Encoding.Latin1.GetBytes(b))
        : throw new ArgumentOutOfRangeException(nameof(id), id, $"id is outside the vocabulary (size {VocabSize})");

    /// <inheritdoc/>
    public int? TokenToId(string token) =>
        _specials.Values.FirstOrDefault(t => t.Content == token)?.Id
        ?? (_ranks.TryGetValue(Encoding.Latin1.GetString(Encoding.UTF8.GetBytes(token)), out int r) ? r : null);
}
