using PeftSharp.Tokenization.Whisper;

namespace PeftSharp.Data.Speech;

/// <summary>Decoder inputs and labels of one transcript, aligned position by position (labels are the inputs shifted left).</summary>
public sealed record AsrTargets(int[] DecoderInputIds, int[] Labels)
{
    /// <summary>
    /// Number of positions (equal for inputs and labels); at most the builder's
    /// <see cref="AsrLabelBuilder.MaxTargetLength"/>.
    /// </summary>
    public int Length => Labels.Length;
}

/// <summary>
/// Turns transcripts into Whisper decoder targets the way Hugging Face's fine-tuning recipe does: the full sequence
/// is prefix + text + EOT; labels drop its leading &lt;|startoftranscript|&gt; (the decoder start token) and decoder
/// inputs are the labels shifted right with SOT in front, i.e. prefix + text. The prefix tokens (language, task,
/// notimestamps) are trained as labels, as in that recipe. Knows no tokenizer class: it takes the prefix ids, the
/// EOT id and an encode function, so any Whisper-like vocabulary works.
/// </summary>
public sealed class AsrLabelBuilder
{
    /// <summary>Whisper's max_target_positions: the decoder's position table has 448 rows.</summary>
    public const int WhisperMaxTargetLength = 448;
    /// <summary>Where Whisper's prefix keeps its language token: [sot, language, task, (notimestamps)].</summary>
    public const int LanguageIndex = 1;

    readonly int[] prefix;
    readonly int endOfText;
    readonly Func<string, IReadOnlyList<int>> encode;
    readonly Func<string, int>? languageToken;

    /// <summary>The id that ends every label sequence; Whisper also pads decoder inputs with it.</summary>
    public int EndOfText => endOfText;
    /// <summary>
    /// The longest label sequence kept (prefix + text + EOT), in tokens; longer transcripts are cut and counted in
    /// <see cref="TruncatedCount"/>. Default <see cref="WhisperMaxTargetLength"/> (448, HF max_target_positions).
    /// </summary>
    public int MaxTargetLength { get; }
    /// <summary>How many transcripts were cut to fit <see cref="MaxTargetLength"/> so far.</summary>
    public int TruncatedCount { get; private set; }

    /// <summary>A builder from raw ids, for any Whisper-like vocabulary; <see cref="ForWhisper"/> makes one from a tokenizer.</summary>
    /// <param name="decoderPrefix">The forced prefix, starting with &lt;|startoftranscript|&gt;.</param>
    /// <param name="endOfText">The &lt;|endoftext|&gt; id that ends every label sequence.</param>
    /// <param name="encode">Text to ids without special tokens.</param>
    /// <param name="languageToken">
    /// Language (code or name) to its token; when given, an example's own language replaces the prefix's token at
    /// <see cref="LanguageIndex"/>. Null (e.g. English-only models, whose prefix has no language token): per-example
    /// languages are ignored.
    /// </param>
    /// <param name="maxTargetLength">Longest label sequence in tokens; must exceed the prefix length. Default 448 (Whisper).</param>
    /// <exception cref="ArgumentException">The prefix is empty, or a language lookup is given for a prefix without a language slot.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxTargetLength"/> does not exceed the prefix length.</exception>
    public AsrLabelBuilder(IReadOnlyList<int> decoderPrefix, int endOfText, Func<string, IReadOnlyList<int>> encode,
        int maxTargetLength = WhisperMaxTargetLength, Func<string, int>? languageToken = null)
    {
        ArgumentNullException.ThrowIfNull(decoderPrefix);
        ArgumentNullException.ThrowIfNull(encode);
        if (decoderPrefix.Count == 0)
            throw new ArgumentException("the decoder prefix is empty; it must start with <|startoftranscript|>", nameof(decoderPrefix));
        if (languageToken is not null && decoderPrefix.Count <= LanguageIndex)
            throw new ArgumentException($"a language lookup was given but the prefix [{string.Join(", ", decoderPrefix)}] has no language token at index {LanguageIndex}", nameof(languageToken));
        if (maxTargetLength <= decoderPrefix.Count)
            throw new ArgumentOutOfRangeException(nameof(maxTargetLength), maxTargetLength,
                $"max target length must exceed the {decoderPrefix.Count}-token prefix so a transcript fits; Whisper's is {WhisperMaxTargetLength}");
        prefix = [.. decoderPrefix];
        this.endOfText = endOfText;
        this.encode = encode;
        this.languageToken = languageToken;
        MaxTargetLength = maxTargetLength;
    }

    /// <summary>
    /// A builder for a Whisper tokenizer: prefix = its SOT sequence for <paramref name="language"/> and
    /// <paramref name="task"/>; per-example languages are honoured for multilingual tokenizers.
    /// </summary>
    public static AsrLabelBuilder ForWhisper(WhisperTokenizer tokenizer, string? language = "en", WhisperTask task = WhisperTask.Transcribe,
        bool timestamps = false, int maxTargetLength = WhisperMaxTargetLength) =>
        new(tokenizer.SotSequence(tokenizer.IsMultilingual ? language : null, task, timestamps), tokenizer.EndOfText,
            text => tokenizer.Encode(text, addSpecialTokens: false), maxTargetLength,
            tokenizer.IsMultilingual ? tokenizer.LanguageToken : null);

    /// <summary>The targets of one transcript; <paramref name="language"/> overrides the prefix's language when a lookup was given.</summary>
    public AsrTargets Build(string text, string? language = null)
    {
        // Whisper's own transcripts start with a space (its segments decode as " And so my fellow..."), so the
        // first word gets the same token it gets mid-sentence and matches what the model generates.
        var textIds = encode(" " + text.Trim());
        int room = MaxTargetLength - prefix.Length;                 // the EOT takes the slot SOT frees in the labels
        int kept = Math.Min(textIds.Count, room);
        if (kept < textIds.Count) TruncatedCount++;

        var inputs = new int[prefix.Length + kept];
        prefix.CopyTo(inputs, 0);
        if (language is not null && languageToken is not null) inputs[LanguageIndex] = languageToken(language);
        for (int i = 0; i < kept; i++) inputs[prefix.Length + i] = textIds[i];

        var labels = new int[inputs.Length];
        Array.Copy(inputs, 1, labels, 0, inputs.Length - 1);
        labels[^1] = endOfText;
        return new AsrTargets(inputs, labels);
    }

    /// <summary>One warning when any transcript was truncated; nothing otherwise.</summary>
    public void WarnIfTruncated(string source)
    {
        if (TruncatedCount > 0)
            Diagnostics.Warn($"{source}: {TruncatedCount} transcript(s) truncated to {MaxTargetLength} decoder tokens (prefix and <|endoftext|> included); " +
                "split long clips into shorter ones so no text is lost");
    }
}
