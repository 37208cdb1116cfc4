namespace PeftSharp.Tokenization.Whisper;

/// <summary>
/// The Whisper special tokens decoding needs, from any tokenizer: OpenAI's tiktoken-based <see cref="WhisperTokenizer"/>
/// or a Hugging Face tokenizer.json where &lt;|startoftranscript|&gt;, &lt;|en|&gt;, &lt;|notimestamps|&gt;, ... are
/// added tokens (resolved by name). Builds the forced decoder prefix and Whisper's suppression lists.
/// </summary>
public sealed class WhisperSpecialTokens
{
    private readonly Dictionary<string, int> _languageIds;
    private readonly Func<string, IReadOnlyList<int>> _encodeOrdinary;

    /// <summary>The tokenizer the ids were resolved from.</summary>
    public ITextTokenizer Tokenizer { get; }
    /// <summary>&lt;|endoftext|&gt;: ends every transcript; HF also pads with it.</summary>
    public int EndOfText { get; }
    /// <summary>&lt;|startoftranscript|&gt;: the decoder start token, first in every forced prefix.</summary>
    public int StartOfTranscript { get; }
    /// <summary>&lt;|transcribe|&gt;: the task token for writing speech in its own language.</summary>
    public int Transcribe { get; }
    /// <summary>&lt;|translate|&gt;: the task token for translating speech to English.</summary>
    public int Translate { get; }
    /// <summary>&lt;|notimestamps|&gt;: ends the prefix when decoding text without timestamps.</summary>
    public int NoTimestamps { get; }
    /// <summary>
    /// &lt;|startofprev|&gt;: introduces previous-window text as a prompt; suppressed during decoding.
    /// </summary>
    public int StartOfPrev { get; }
    /// <summary>&lt;|startoflm|&gt;: unused by transcription; suppressed during decoding.</summary>
    public int StartOfLm { get; }
    /// <summary>
    /// &lt;|nospeech|&gt; (named &lt;|nocaptions|&gt; in older vocabularies): its probability flags silent windows;
    /// null when the tokenizer has neither.
    /// </summary>
    public int? NoSpeech { get; }
    /// <summary>Language codes with a token, in token order.</summary>
    public IReadOnlyList<string> LanguageCodes { get; }
    /// <summary>Language token ids in token order (empty for English-only models).</summary>
    public IReadOnlyList<int> LanguageTokenIds { get; }
    /// <summary>
    /// Whether the decoder prefix carries language and task tokens. As Hugging Face decides it: a vocabulary of 51865 or
    /// more (English-only ".en" tokenizers number the language tokens too, but their models never saw them).
    /// </summary>
    public bool IsMultilingual { get; }

    /// <summary>Hugging Face's rule: a checkpoint with a vocabulary this large or larger is multilingual.</summary>
    public const int MultilingualMinVocabSize = 51865;

    private WhisperSpecialTokens(ITextTokenizer tokenizer, Func<string, int?> lookup, Func<string, IReadOnlyList<int>> encodeOrdinary, int vocabSize)
    {
        Tokenizer = tokenizer;
        _encodeOrdinary = encodeOrdinary;
        int Require(string name) => lookup(name) ?? throw new ConfigurationException(
            $"the tokenizer has no '{name}' token, so it is not a Whisper tokenizer: use the model folder's tokenizer.json or a *.tiktoken file (multilingual.tiktoken / gpt2.tiktoken)");
        EndOfText = Require("<|endoftext|>");
        StartOfTranscript = Require("<|startoftranscript|>");
        Transcribe = Require("<|transcribe|>");
        Translate = Require("<|translate|>");
        NoTimestamps = Require("<|notimestamps|>");
        StartOfPrev = Require("<|startofprev|>");
        StartOfLm = Require("<|startoflm|>");
        // Older Hugging Face tokenizers spell it <|nocaptions|>.
        NoSpeech = lookup("<|nospeech|>") ?? lookup("<|nocaptions|>");
        _languageIds = new(StringComparer.Ordinal);
        foreach (var (code, _) in WhisperLanguages.All)
            if (lookup($"<|{code}|>") is { } id) _languageIds[code] = id;
        IsMultilingual = vocabSize >= MultilingualMinVocabSize && _languageIds.Count > 0;
        if (!IsMultilingual) _languageIds.Clear();
        LanguageCodes = _languageIds.OrderBy(p => p.Value).Select(p => p.Key).ToArray();
        LanguageTokenIds = _languageIds.Values.Order().ToArray();
    }

    /// <summary>
    /// The special tokens of <paramref name="tokenizer"/>; a clear error when it is not a Whisper tokenizer.
    /// <paramref name="modelVocabSize"/> (config.json's vocab_size) decides multilingual; default: the tokenizer's.
    /// </summary>
    public static WhisperSpecialTokens From(ITextTokenizer tokenizer, int? modelVocabSize = null) =>
        new(tokenizer, tokenizer.TokenToId, text => tokenizer.Encode(text, addSpecialTokens: false), modelVocabSize ?? tokenizer.VocabSize);

    /// <summary>True for every Whisper special token and timestamp (they all follow the text tokens).</summary>
    public bool IsSpecial(int id) => id >= EndOfText;

    /// <summary>The token of a language given by code ("en") or English name ("english").</summary>
    public int LanguageToken(string language)
    {
        string? code = WhisperLanguages.ToCode(language);
        if (code is not null && _languageIds.TryGetValue(code, out int id)) return id;
        throw new ConfigurationException(IsMultilingual
            ? $"language '{language}' has no token in this Whisper tokenizer; valid codes: {string.Join(", ", LanguageCodes)}"
            : $"language '{language}': this is an English-only Whisper model (no language tokens); omit the language or use a multilingual model");
    }

    /// <summary>The language code of a language token id.</summary>
    public string LanguageCode(int tokenId) =>
        _languageIds.FirstOrDefault(p => p.Value == tokenId).Key ?? throw new ArgumentOutOfRangeException(nameof(tokenId), tokenId, "not a language token");

    /// <summary>
    /// The forced decoder prefix: &lt;|startoftranscript|&gt;, then language and task for multilingual models, then
    /// &lt;|notimestamps|&gt; unless <paramref name="timestamps"/>. English-only models take neither language nor task.
    /// </summary>
    public IReadOnlyList<int> SotSequence(string? language = "en", WhisperTask task = WhisperTask.Transcribe, bool timestamps = false) =>
        BuildSotSequence(language, task, timestamps, StartOfTranscript, IsMultilingual, LanguageToken, Translate, Transcribe, NoTimestamps,
            message => new ConfigurationException(message));

    /// <summary>The forced prefix from its parts; <paramref name="error"/> makes the caller's exception type for a language or task the model cannot take.</summary>
    internal static IReadOnlyList<int> BuildSotSequence(string? language, WhisperTask task, bool timestamps, int startOfTranscript, bool multilingual,
        Func<string, int> languageToken, int translate, int transcribe, int noTimestamps, Func<string, Exception> error)
    {
        var ids = new List<int> { startOfTranscript };
        if (multilingual)
        {
            ids.Add(languageToken(language ?? "en"));
            ids.Add(task == WhisperTask.Translate ? translate : transcribe);
        }
        else
        {
            if (language is not null && WhisperLanguages.ToCode(language) != "en")
                throw error($"language '{language}': this English-only Whisper model only writes English; use a multilingual checkpoint");
            if (task == WhisperTask.Translate)
                throw error("English-only Whisper models do not translate; use a multilingual checkpoint or task transcribe");
        }
        if (!timestamps) ids.Add(noTimestamps);
        return ids;
    }

    /// <summary>Suppressed at the first sampled position (Whisper's SuppressBlank): the space token and &lt;|endoftext|&gt;.</summary>
    public IReadOnlyList<int> BlankSuppressTokens => [.. _encodeOrdinary(" "), EndOfText];

    /// <summary>Whisper's non_speech_tokens (speaker tags, music symbols, bracketed annotations); sorted ids.</summary>
    public IReadOnlyList<int> NonSpeechTokens => _nonSpeech ??= BuildNonSpeechTokens(_encodeOrdinary);
    private IReadOnlyList<int>? _nonSpeech;

    /// <summary>Whisper's default per-step suppression (suppress_tokens="-1"): non-speech tokens plus the task and prefix tokens; sorted ids.</summary>
    public IReadOnlyList<int> DefaultSuppressTokens =>
        [.. NonSpeechTokens.Concat([Transcribe, Translate, StartOfTranscript, StartOfPrev, StartOfLm]).Concat(NoSpeech is { } n ? [n] : []).Distinct().Order()];

    /// <summary>The text of decoded ids: special tokens and timestamps dropped, surrounding whitespace trimmed.</summary>
    public string DecodeText(IEnumerable<int> ids) => Tokenizer.Decode(ids.Where(id => !IsSpecial(id)), skipSpecialTokens: true).Trim();

    /// <summary>OpenAI Whisper's non_speech_tokens over any encoder of plain text (no special tokens).</summary>
    internal static int[] BuildNonSpeechTokens(Func<string, IReadOnlyList<int>> encodeOrdinary)
    {
        var symbols = "\"#()*+/:;<=>@[\\]^_`{|}~「」『』".Select(c => c.ToString()).ToList();
        symbols.AddRange("<< >> <<< >>> -- --- -( -[ (' (\" (( )) ((( ))) [[ ]] {{ }} ♪♪ ♪♪♪".Split(' '));
        // U+2640..U+267F symbols: when one is several tokens, its first token is suppressed (they share it).
        var miscellaneous = "♩♪♫♬♭♮♯".Select(c => c.ToString()).ToList();

        // Hyphens and single quotes stay allowed between words, not at the start of one.
        var result = new SortedSet<int> { encodeOrdinary(" -")[0], encodeOrdinary(" '")[0] };
        foreach (var symbol in symbols.Concat(miscellaneous))
            foreach (var tokens in new[] { encodeOrdinary(symbol), encodeOrdinary(" " + symbol) })
                if (tokens.Count == 1 || miscellaneous.Contains(symbol)) result.Add(tokens[0]);
        return [.. result];
    }
}
