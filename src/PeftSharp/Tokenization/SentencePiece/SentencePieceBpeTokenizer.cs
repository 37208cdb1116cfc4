using System.Collections.Concurrent;
using System.Text;
using PeftSharp.Tokenization.Bpe;

namespace PeftSharp.Tokenization.SentencePiece;

/// <summary>
/// A sentencepiece BPE tokenizer.model, encoding as sentencepiece's bpe_model.cc does: identity normalization
/// (spaces to ▁, dummy prefix), chars (user-defined pieces matched whole), then merge the adjacent pair whose
/// concatenation is a piece with the highest score; unknown pieces fall back to &lt;0xXX&gt; bytes.
/// </summary>
public sealed class SentencePieceBpeTokenizer : ITextTokenizer
{
    private const char Space = '\u2581';
    private readonly SentencePieceModel _model;
    private readonly Dictionary<string, int> _mergeable = new(StringComparer.Ordinal); // normal, user-defined, unused
    private readonly Dictionary<string, int> _all = new(StringComparer.Ordinal);
    private readonly Dictionary<(int, int), int> _pairCache = [];
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    private readonly string[] _userDefined;
    private readonly int[] _byteIds = new int[256];
    private readonly bool _addBos;
    private readonly bool _addEos;

    /// <inheritdoc/>
    public int VocabSize => _model.Pieces.Count;
    /// <inheritdoc/>
    public int? BosId { get; }
    /// <inheritdoc/>
    public int? EosId => EosIds.Count > 0 ? EosIds[0] : null;
    /// <inheritdoc/>
    public IReadOnlyList<int> EosIds { get; }
    /// <inheritdoc/>
    public int? PadId { get; }
    /// <summary>The parsed tokenizer.model (pieces with their scores and types).</summary>
    public SentencePieceModel Model => _model;

    /// <summary>
    /// A tokenizer over a parsed tokenizer.model. BOS is added by default and EOS not (Llama's add_bos_token /
    /// add_eos_token), unless <paramref name="settings"/> says otherwise.
    /// </summary>
    /// <param name="model">The parsed model; must be BPE with identity normalization.</param>
    /// <param name="path">The file it came from, for messages.</param>
    /// <param name="settings">Special tokens and add_bos/add_eos from the model folder; null: the model's own ids.</param>
    /// <exception cref="ConfigurationException">The model is not BPE, uses a precompiled normalizer charsmap, or treats whitespace as a suffix.</exception>
    public SentencePieceBpeTokenizer(SentencePieceModel model, string path, SpecialTokenSettings? settings = null)
    {
        settings ??= SpecialTokenSettings.Empty;
        if (model.ModelType != 2)
            throw new ConfigurationException($"{path}: sentencepiece model_type {model.ModelType} ({ModelTypeName(model.ModelType)}) is not supported; supported: BPE (2)");
        if (model.HasPrecompiledCharsMap)
            throw new ConfigurationException($"{path}: sentencepiece normalizer '{model.NormalizerName}' with a precompiled charsmap is not supported; only identity normalization");
        if (model.TreatWhitespaceAsSuffix)
            throw new ConfigurationException($"{path}: sentencepiece treat_whitespace_as_suffix is not supported");
        _model = model;
        Array.Fill(_byteIds, -1);
        for (int id = 0; id < model.Pieces.Count; id++)
        {
            var p = model.Pieces[id];
            _all.TryAdd(p.Text, id);
            if (p.Type is PieceType.Normal or PieceType.UserDefined or PieceType.Unused) _mergeable.TryAdd(p.Text, id);
            if (p.Type == PieceType.Byte && Utf8Text.TryParseBytePiece(p.Text, out byte b)) _byteIds[b] = id;
        }
        _userDefined = model.Pieces.Where(p => p.Type == PieceType.UserDefined).Select(p => p.Text)
            .OrderByDescending(t => t.Length).ToArray();

        int? Valid(int id) => id >= 0 && id < model.Pieces.Count ? id : null;
        var (bos, eos, pad) = settings.Resolve(TokenToId, Valid(model.BosId), Valid(model.EosId), Valid(model.PadId));
        BosId = bos;
        EosIds = eos;
        PadId = pad;
        _addBos = settings.AddBosToken ?? true;
        _addEos = settings.AddEosToken ?? false;
    }

    private static string ModelTypeName(int t) => t switch { 1 => "UNIGRAM", 2 => "BPE", 3 => "WORD", 4 => "CHAR", _ => "unknown" };

    /// <inheritdoc/>
    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>();
        if (addSpecialTokens && _addBos && BosId is int bos) ids.Add(bos);
        string normalized = Normalize(text);
        if (normalized.Length > 0)
        {
            if (!_cache.TryGetValue(normalized, out var cached))
            {
                cached = EncodeNormalized(normalized);
                // Whole inputs are cached only when short: they repeat (prompts, labels); long ones rarely do.
                if (normalized.Length <= 64) { if (_cache.Count > 100_000) _cache.Clear(); _cache[normalized] = cached; }
            }
            ids.AddRange(cached);
        }
        if (addSpecialTokens && _addEos && EosId is int eos) ids.Add(eos);
        return ids;
    }

    /// <summary>sentencepiece's identity normalizer: optional whitespace squeeze, spaces to ▁, dummy prefix.</summary>
    private string Normalize(string text)
    {
        if (_model.RemoveExtraWhitespaces)
            text = string.Join(' ', text.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        if (text.Length == 0) return "";
        if (_model.EscapeWhitespaces) text = text.Replace(' ', Space);
        return _model.AddDummyPrefix ? Space + text : text;
    }

    private int[] EncodeNormalized(string text)
    {
        // Symbols are pieces (ids) where known; unknown chars get negative placeholders resolved after merging.
        var unknown = new List<string>();
        var symbols = new List<int>();
        for (int i = 0; i < text.Length;)
        {
            string? user = _userDefined.FirstOrDefault(u => string.CompareOrdinal(text, i, u, 0, u.Length) == 0);
            int len = user?.Length ?? (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1);
            string ch = text.Substring(i, len);
            if (_mergeable.TryGetValue(ch, out int id)) symbols.Add(id);
            else { unknown.Add(ch); symbols.Add(-unknown.Count); }
            i += len;
        }
        var merged = PairMerger.Merge(symbols, TryMerge);
        var result = new List<int>(merged.Count);
        foreach (int id in merged)
        {
            if (id >= 0 && _model.Pieces[id].Type != PieceType.Unused) { result.Add(id); continue; }
            string piece = id >= 0 ? _model.Pieces[id].Text : unknown[-id - 1];
            EmitUnknown(piece, result);
        }
        return result.ToArray();
    }

    private void EmitUnknown(string piece, List<int> result)
    {
        if (_model.ByteFallback && Encoding.UTF8.GetBytes(piece) is var bytes && bytes.All(b => _byteIds[b] >= 0))
            result.AddRange(bytes.Select(b => _byteIds[b]));
        else result.Add(_model.UnkId);
    }

    private bool TryMerge(int left, int right, out double priority, out int merged)
    {
        priority = 0;
        merged = -1;
        if (left < 0 || right < 0) return false;
        lock (_pairCache)
        {
            if (!_pairCache.TryGetValue((left, right), out merged))
            {
                merged = _mergeable.TryGetValue(_model.Pieces[left].Text + _model.Pieces[right].Text, out int m) ? m : -1;
                _pairCache[(left, right)] = merged;
            }
        }
        if (merged < 0) return false;
        priority = -_model.Pieces[merged].Score;
        return true;
    }

    /// <inheritdoc/>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true)
    {
        var sb = new StringBuilder();
        var bytes = new List<byte>();
        bool atStart = true;
        foreach (int id in ids)
        {
            if (id < 0 || id >= _model.Pieces.Count) continue;
            var p = _model.Pieces[id];
            if (p.Type == PieceType.Byte && Utf8Text.TryParseBytePiece(p.Text, out byte b)) { bytes.Add(b); atStart = false; continue; }
            FlushBytes(sb, bytes);
            if (p.Type == PieceType.Control) { if (!skipSpecialTokens) sb.Append(p.Text); continue; }
            string text = p.Type == PieceType.Unknown ? " \u2047 " : p.Text.Replace(Space, ' ');
            // sentencepiece drops the dummy-prefix space of the first piece.
            if (atStart && _model.AddDummyPrefix && text.StartsWith(' ')) text = text[1..];
            atStart = false;
            sb.Append(text);
        }
        FlushBytes(sb, bytes);
        return sb.ToString();
    }

    private static void FlushBytes(StringBuilder sb, List<byte> bytes)
    {
        if (bytes.Count == 0) return;
        sb.Append(Utf8Text.DecodeLossy(bytes));
        bytes.Clear();
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentOutOfRangeException">The id is not in the vocabulary.</exception>
    public string IdToToken(int id) => id >= 0 && id < _model.Pieces.Count
        ? _model.Pieces[id].Text
        : throw new ArgumentOutOfRangeException(nameof(id), id, $"id is outside the vocabulary (size {VocabSize})");

    /// <inheritdoc/>
    public int? TokenToId(string token) => _all.TryGetValue(token, out int id) ? id : null;
}
