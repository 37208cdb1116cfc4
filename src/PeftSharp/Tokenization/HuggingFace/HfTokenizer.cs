using System.Text.Json;
using System.Text.Json.Nodes;

namespace PeftSharp.Tokenization.HuggingFace;

/// <summary>
/// A Hugging Face tokenizer.json (BPE model): added tokens split first, then normalizer, pre-tokenizer, BPE
/// and post-processor, as the tokenizers library runs them.
/// </summary>
public sealed class HfTokenizer : ITextTokenizer
{
    private readonly IHfNormalizer? _normalizer;
    private readonly IHfPreTokenizer? _preTokenizer;
    private readonly HfBpeModel _model;
    private readonly IHfDecoder? _decoder;
    private readonly IReadOnlyList<int> _prefix;
    private readonly IReadOnlyList<int> _suffix;
    private readonly AddedTokenSplitter _splitter;
    private readonly Dictionary<int, AddedToken> _addedById = [];
    private readonly Dictionary<string, AddedToken> _addedByContent = new(StringComparer.Ordinal);
    private readonly Dictionary<int, string> _idToToken = [];
    private readonly bool _cleanUp;

    /// <inheritdoc/>
    public int VocabSize { get; }
    /// <summary>
    /// BOS: tokenizer_config's bos_token, else config.json's bos_token_id, else the first id the post-processor's
    /// template puts in front.
    /// </summary>
    public int? BosId { get; }
    /// <inheritdoc/>
    public int? EosId => EosIds.Count > 0 ? EosIds[0] : null;
    /// <inheritdoc/>
    public IReadOnlyList<int> EosIds { get; }
    /// <inheritdoc/>
    public int? PadId { get; }
    /// <summary>
    /// The file's added_tokens (special and not), each matched whole in the input before normalization.
    /// </summary>
    public IReadOnlyCollection<AddedToken> AddedTokens => _addedById.Values;
    /// <summary>The BPE merges in rank order, as the file lists them.</summary>
    public IReadOnlyList<(string Left, string Right)> Merges => _model.Merges;
    /// <summary>True for SentencePiece-style BPE (unknown characters become &lt;0xXX&gt; byte tokens).</summary>
    public bool ByteFallback => _model.ByteFallback;
    /// <summary>True when the pre-tokenizer maps bytes to GPT-2's byte alphabet (byte-level BPE).</summary>
    public bool ByteLevel { get; }
    /// <summary>The file's "pre_tokenizer" node as JSON text (null when absent), for exporters that name it.</summary>
    public string? PreTokenizerJson { get; }

    /// <summary>
    /// Reads <paramref name="path"/>. A malformed file throws <see cref="InvalidFileFormatException"/>; a component this
    /// version does not implement throws <see cref="ConfigurationException"/>.
    /// </summary>
    public HfTokenizer(string path, SpecialTokenSettings? settings = null)
    {
        settings ??= SpecialTokenSettings.Empty;
        if (!File.Exists(path)) throw new InvalidFileFormatException(path, "file not found");
        var json = JsonReading.ParseFile(path);
        if (json.ValueKind != JsonValueKind.Object)
            throw new InvalidFileFormatException(path, $"expected a JSON object at the top level, found {json.ValueKind}; is this a tokenizer.json?");
        var root = JsonObject.Create(json)!;

        var model = root["model"] as JsonObject ?? throw new InvalidFileFormatException(path, "no \"model\" object; is this a tokenizer.json?");
        string modelType = JsonHelpers.Str(model, "type") ?? (model["merges"] is not null ? "BPE" : "(missing)");
        if (modelType != "BPE")
            throw new ConfigurationException($"{path}: tokenizer model type '{modelType}' is not supported; supported: BPE");

        _model = new HfBpeModel(model, path);
        _normalizer = HfNormalizerFactory.Create(root["normalizer"], path);
        _preTokenizer = HfPreTokenizerFactory.Create(root["pre_tokenizer"], path);
        ByteLevel = HfPreTokenizerFactory.CountByteLevel(root["pre_tokenizer"]) > 0;
        PreTokenizerJson = root["pre_tokenizer"]?.ToJsonString();
        _decoder = HfDecoderFactory.Create(root["decoder"], path);
        var post = HfPostProcessor.Create(root["post_processor"], path);

        foreach (var (token, id) in _model.Vocab) _idToToken[id] = token;
        if (root["added_tokens"] is JsonArray added)
            foreach (var node in added.OfType<JsonNode>())
            {
                var t = new AddedToken(JsonHelpers.Id(JsonHelpers.Get(node, "id"), path, $"added token {JsonHelpers.Describe(node)}: \"id\""),
                    JsonHelpers.Str(node, "content") ?? "",
                    JsonHelpers.Bool(node, "special", false), JsonHelpers.Bool(node, "lstrip", false), JsonHelpers.Bool(node, "rstrip", false));
                if (t.Content.Length == 0) throw new InvalidFileFormatException(path, $"added token {JsonHelpers.Describe(node)} needs a non-empty \"content\"");
                _addedById[t.Id] = t;
                _addedByContent[t.Content] = t;
                _idToToken[t.Id] = t.Content;
            }
        _splitter = new AddedTokenSplitter(_addedById.Values);
        VocabSize = _idToToken.Count == 0 ? 0 : _idToToken.Keys.Max() + 1;

        var (bos, eos, pad) = settings.Resolve(TokenToId, post.Prefix.Count > 0 ? post.Prefix[0] : null, null, null);
        BosId = bos;
        EosIds = eos;
        PadId = pad;
        _prefix = post.Prefix;
        _suffix = post.Suffix;
        // Explicit add_bos_token/add_eos_token override the template, as transformers' Llama tokenizers rebuild it.
        if (settings.AddBosToken == false && BosId is int b && _prefix.Count > 0 && _prefix[0] == b) _prefix = _prefix.Skip(1).ToList();
        if (settings.AddBosToken == true && BosId is int b2 && !_prefix.Contains(b2)) _prefix = [b2, .. _prefix];
        if (settings.AddEosToken == true && EosId is int eosId && !_suffix.Contains(eosId)) _suffix = [.. _suffix, eosId];
        _cleanUp = settings.CleanUpTokenizationSpaces;
    }

    /// <inheritdoc/>
    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>();
        if (addSpecialTokens) ids.AddRange(_prefix);
        var pieces = new List<PreToken>();
        foreach (var segment in _splitter.Split(text))
        {
            if (segment.Token is { } token) { ids.Add(token.Id); continue; }
            string normalized = _normalizer?.Normalize(segment.Text) ?? segment.Text;
            pieces.Clear();
            var whole = new PreToken(normalized, segment.Offset == 0);
            if (_preTokenizer is null) pieces.Add(whole);
            else _preTokenizer.Split(whole, pieces);
            foreach (var piece in pieces) _model.Tokenize(piece.Text, ids);
        }
        if (addSpecialTokens) ids.AddRange(_suffix);
        return ids;
    }

    /// <inheritdoc/>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true)
    {
        var tokens = new List<string>();
        foreach (int id in ids)
        {
            if (!_idToToken.TryGetValue(id, out var token)) continue; // HF skips unknown ids
            if (skipSpecialTokens && _addedById.TryGetValue(id, out var a) && a.Special) continue;
            tokens.Add(token);
        }
        string text = _decoder is null ? string.Join(' ', tokens) : string.Concat(_decoder.DecodeChain(tokens));
        return _cleanUp ? SpecialTokenSettings.CleanUp(text) : text;
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentOutOfRangeException">The id is not in the vocabulary.</exception>
    public string IdToToken(int id) =>
        _idToToken.TryGetValue(id, out var t) ? t : throw new ArgumentOutOfRangeException(nameof(id), id, $"id is outside the vocabulary (size {VocabSize})");

    /// <inheritdoc/>
    public int? TokenToId(string token) =>
        _addedByContent.TryGetValue(token, out var a) ? a.Id : _model.Vocab.TryGetValue(token, out int id) ? id : null;
}
