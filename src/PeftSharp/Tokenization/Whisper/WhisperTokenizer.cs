using System.Globalization;
using PeftSharp.Tokenization.Tiktoken;

namespace PeftSharp.Tokenization.Whisper;

/// <summary>
/// OpenAI Whisper's tokenizer: a tiktoken vocabulary (multilingual.tiktoken, or gpt2.tiktoken for the ".en" models)
/// with GPT-2's split pattern, and special tokens numbered from the count of ranks in Whisper's order:
/// &lt;|endoftext|&gt;, &lt;|startoftranscript|&gt;, one &lt;|xx|&gt; per language, &lt;|translate|&gt;,
/// &lt;|transcribe|&gt;, &lt;|startoflm|&gt;, &lt;|startofprev|&gt;, &lt;|nospeech|&gt;, &lt;|notimestamps|&gt;,
/// then the 1501 timestamps &lt;|0.00|&gt; .. &lt;|30.00|&gt;. Ids equal OpenAI's and Hugging Face's.
/// </summary>
public sealed class WhisperTokenizer : ITextTokenizer
{
    /// <summary>Timestamp tokens: 0.00 s to 30.00 s.</summary>
    public const int TimestampCount = 1501;
    /// <summary>Seconds between timestamp tokens.</summary>
    public const double TimestampStep = 0.02;
    /// <summary>Special tokens other than languages and timestamps (eot, sot, translate, transcribe, startoflm, startofprev, nospeech, notimestamps).</summary>
    private const int FixedSpecialCount = 8;
    /// <summary>Hugging Face's rule: a checkpoint with a vocabulary this large or larger is multilingual.</summary>
    private const int MultilingualMinVocabSize = 51865;

    private readonly TiktokenTokenizer _tiktoken;
    private readonly Dictionary<string, int> _languageIds = new(StringComparer.Ordinal);

    /// <summary>
    /// Ranks plus special tokens plus the 1501 timestamps (51865 for multilingual, 51864 for ".en", 51866 for
    /// large-v3).
    /// </summary>
    public int VocabSize { get; }
    /// <summary>Number of language tokens: 99, or 100 for large-v3 (which adds Cantonese).</summary>
    public int NumLanguages { get; }
    /// <summary>False for the English-only ".en" checkpoints (gpt2.tiktoken): their decoder prefix has no language or task token.</summary>
    public bool IsMultilingual { get; }

    /// <summary>&lt;|endoftext|&gt;: ends every transcript; also the padding and EOS id.</summary>
    public int EndOfText { get; }
    /// <summary>&lt;|startoftranscript|&gt;: the decoder start token, also reported as <see cref="BosId"/>.</summary>
    public int StartOfTranscript { get; }
    /// <summary>&lt;|translate|&gt;: the task token for translating to English.</summary>
    public int Translate { get; }
    /// <summary>&lt;|transcribe|&gt;: the task token for writing speech in its own language.</summary>
    public int Transcribe { get; }
    /// <summary>&lt;|startoflm|&gt;: unused by transcription.</summary>
    public int StartOfLm { get; }
    /// <summary>&lt;|startofprev|&gt;: introduces previous-window text as a prompt.</summary>
    public int StartOfPrev { get; }
    /// <summary>&lt;|nospeech|&gt;: its probability flags silent windows.</summary>
    public int NoSpeech { get; }
    /// <summary>&lt;|notimestamps|&gt;: ends the prefix when decoding text without timestamps.</summary>
    public int NoTimestamps { get; }
    /// <summary>Id of &lt;|0.00|&gt;; timestamps are this id plus seconds / 0.02.</summary>
    public int TimestampBegin { get; }

    /// <summary>Language used by <see cref="Encode"/> with special tokens (Whisper's get_tokenizer default: "en"; none for English-only models).</summary>
    public string? Language { get; init; }
    /// <summary>
    /// Task used by <see cref="Encode"/> with special tokens (multilingual models only); default
    /// <see cref="WhisperTask.Transcribe"/>.
    /// </summary>
    public WhisperTask Task { get; init; } = WhisperTask.Transcribe;

    /// <summary>Language codes that have a token, in token order.</summary>
    public IReadOnlyList<string> LanguageCodes { get; }

    /// <summary>&lt;|startoftranscript|&gt;, the decoder start token.</summary>
    public int? BosId => StartOfTranscript;
    /// <summary>&lt;|endoftext|&gt;.</summary>
    public int? EosId => EndOfText;
    /// <summary>Whisper pads with &lt;|endoftext|&gt; (Hugging Face's pad_token).</summary>
    public int? PadId => EndOfText;

    /// <param name="tiktokenPath">multilingual.tiktoken or gpt2.tiktoken.</param>
    /// <param name="numLanguages">Language tokens: 99 for most checkpoints, 100 for large-v3 (see <see cref="FromVocabSize"/>).</param>
    public WhisperTokenizer(string tiktokenPath, int numLanguages = WhisperLanguages.DefaultCount)
    {
        if (numLanguages < 0 || numLanguages > WhisperLanguages.All.Count)
            throw new ArgumentOutOfRangeException(nameof(numLanguages), numLanguages,
                $"Whisper knows {WhisperLanguages.All.Count} languages; checkpoints use 99 (tiny .. large-v2) or 100 (large-v3)");
        NumLanguages = numLanguages;
        LanguageCodes = WhisperLanguages.All.Take(numLanguages).Select(l => l.Code).ToArray();
        _tiktoken = TiktokenTokenizer.WithSpecialsAfterRanks(tiktokenPath, SpecialTokenTexts(LanguageCodes));

        int next = _tiktoken.RankCount;
        EndOfText = next++;
        StartOfTranscript = next++;
        foreach (var code in LanguageCodes) _languageIds[code] = next++;
        Translate = next++;
        Transcribe = next++;
        StartOfLm = next++;
        StartOfPrev = next++;
        NoSpeech = next++;
        NoTimestamps = next++;
        TimestampBegin = next;
        VocabSize = TimestampBegin + TimestampCount;
        IsMultilingual = VocabSize >= MultilingualMinVocabSize;
        Language = IsMultilingual ? "en" : null;
    }

    /// <summary>A tokenizer matching a checkpoint's config.json vocab_size (51865: 99 languages, 51866: large-v3's 100, 51864: ".en").</summary>
    public static WhisperTokenizer FromVocabSize(string tiktokenPath, int vocabSize)
    {
        if (!File.Exists(tiktokenPath)) throw new InvalidFileFormatException(tiktokenPath, "file not found");
        int ranks = File.ReadLines(tiktokenPath).Count(line => line.Length > 0);
        int languages = vocabSize - ranks - FixedSpecialCount - TimestampCount;
        if (languages < 0 || languages > WhisperLanguages.All.Count)
            throw new ConfigurationException(
                $"vocab_size {vocabSize} does not fit {tiktokenPath} ({ranks} ranks + {FixedSpecialCount} specials + {TimestampCount} timestamps + 0..{WhisperLanguages.All.Count} languages); " +
                "use multilingual.tiktoken for multilingual checkpoints and gpt2.tiktoken for \".en\" ones");
        return new WhisperTokenizer(tiktokenPath, languages);
    }

    private static IEnumerable<string> SpecialTokenTexts(IEnumerable<string> languageCodes)
    {
        yield return "<|endoftext|>";
        yield return "<|startoftranscript|>";
        foreach (var code in languageCodes) yield return $"<|{code}|>";
        foreach (var name in new[] { "translate", "transcribe", "startoflm", "startofprev", "nospeech", "notimestamps" })
            yield return $"<|{name}|>";
        for (int i = 0; i < TimestampCount; i++) yield return $"<|{TimestampText(i)}|>";
    }

    // Whisper writes f"{i * 0.02:.2f}"; from whole hundredths the text is exact.
    private static string TimestampText(int index) =>
        string.Create(CultureInfo.InvariantCulture, $"{index * 2 / 100}.{index * 2 % 100:D2}");

    /// <summary>
    /// Without special tokens: the text's ids alone, special-token text in it encoded as ordinary text (Whisper's
    /// <c>encode</c>). With them: <see cref="SotSequence"/> for <see cref="Language"/> and <see cref="Task"/> without
    /// timestamps, the text, then &lt;|endoftext|&gt;, as Hugging Face's WhisperTokenizer builds labels.
    /// </summary>
    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true)
    {
        var ids = _tiktoken.EncodeOrdinary(text);
        if (!addSpecialTokens) return ids;
        return [.. SotSequence(Language, Task, timestamps: false), .. ids, EndOfText];
    }

    /// <summary>Encodes text in which special-token text (e.g. "&lt;|en|&gt;", "&lt;|1.08|&gt;") stands for the special token.</summary>
    public IReadOnlyList<int> EncodeWithSpecialTokens(string text) => _tiktoken.Encode(text);

    /// <summary>With <paramref name="skipSpecialTokens"/> every special and timestamp id is dropped; without, they are written as their text (timestamps as "&lt;|1.08|&gt;").</summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true) =>
        _tiktoken.Decode(skipSpecialTokens ? ids.Where(id => !IsSpecial(id)) : ids, skipSpecialTokens: false);

    /// <inheritdoc/>
    public string IdToToken(int id) => _tiktoken.IdToToken(id);
    /// <inheritdoc/>
    public int? TokenToId(string token) => _tiktoken.TokenToId(token);

    /// <summary>True for every special token, timestamps included.</summary>
    public bool IsSpecial(int id) => id >= EndOfText && id < VocabSize;

    /// <summary>
    /// True for the timestamp tokens &lt;|0.00|&gt; .. &lt;|30.00|&gt; (ids from <see cref="TimestampBegin"/>).
    /// </summary>
    public bool IsTimestamp(int id) => id >= TimestampBegin && id < VocabSize;

    /// <summary>The time in seconds a timestamp token stands for.</summary>
    public double Timestamp(int id) => IsTimestamp(id)
        ? (id - TimestampBegin) * TimestampStep
        : throw new ArgumentOutOfRangeException(nameof(id), id, $"not a timestamp token; timestamps are {TimestampBegin}..{VocabSize - 1}");

    /// <summary>The timestamp token nearest to <paramref name="seconds"/> (0 to 30).</summary>
    public int TimestampToken(double seconds)
    {
        if (!(seconds >= 0 && seconds <= (TimestampCount - 1) * TimestampStep))
            throw new ArgumentOutOfRangeException(nameof(seconds), seconds, "timestamps run from 0 to 30 seconds");
        return TimestampBegin + (int)Math.Round(seconds / TimestampStep, MidpointRounding.AwayFromZero);
    }

    /// <summary>The token of a language given by code ("en") or English name ("english"); a clear error lists the valid codes.</summary>
    public int LanguageToken(string language)
    {
        string? code = WhisperLanguages.ToCode(language);
        if (code is not null && _languageIds.TryGetValue(code, out int id)) return id;
        string why = code is null ? "is not a Whisper language"
            : NumLanguages == 0 ? "has no token: this is an English-only tokenizer (no language tokens)"
            : $"has no token in this tokenizer ({NumLanguages} languages; \"yue\" needs large-v3's 100)";
        throw new ArgumentException(
            $"language '{language}' {why}; valid codes: {string.Join(", ", LanguageCodes)}", nameof(language));
    }

    /// <summary>
    /// The forced decoder prefix: [&lt;|startoftranscript|&gt;, language, task] for multilingual models, then
    /// &lt;|notimestamps|&gt; unless <paramref name="timestamps"/>. English-only models take no language or task
    /// token; for them <paramref name="language"/> must be null or English.
    /// </summary>
    public IReadOnlyList<int> SotSequence(string? language = "en", WhisperTask task = WhisperTask.Transcribe, bool timestamps = false) =>
        WhisperSpecialTokens.BuildSotSequence(language, task, timestamps, StartOfTranscript, IsMultilingual, LanguageToken, Translate, Transcribe, NoTimestamps,
            message => new ArgumentException(message, task == WhisperTask.Translate ? nameof(task) : nameof(language)));

    /// <summary>Tokens Whisper suppresses at the first sampled position (<c>SuppressBlank</c>): the space token and &lt;|endoftext|&gt;.</summary>
    public IReadOnlyList<int> BlankSuppressTokens => [.. _tiktoken.EncodeOrdinary(" "), EndOfText];

    /// <summary>
    /// Whisper's <c>non_speech_tokens</c>: tokens of speaker tags and non-speech annotations ("♪♪♪", "( SPEAKING ...)",
    /// "[DAVID]"), suppressed so the model writes only what is spoken; basic punctuation stays. Sorted ids.
    /// </summary>
    public IReadOnlyList<int> NonSpeechTokens => _nonSpeech ??= WhisperSpecialTokens.BuildNonSpeechTokens(_tiktoken.EncodeOrdinary);
    private IReadOnlyList<int>? _nonSpeech;

    /// <summary>
    /// What Whisper suppresses at every step by default (<c>suppress_tokens="-1"</c>): <see cref="NonSpeechTokens"/>
    /// plus the task and prefix tokens (transcribe, translate, sot, startofprev, startoflm, nospeech). Sorted ids; equal
    /// to the checkpoints' <c>suppress_tokens</c> in generation_config.json.
    /// </summary>
    public IReadOnlyList<int> DefaultSuppressTokens =>
        [.. NonSpeechTokens.Concat([Transcribe, Translate, StartOfTranscript, StartOfPrev, StartOfLm, NoSpeech]).Distinct().Order()];
}
