using PeftSharp.Tokenization.Whisper;

namespace PeftSharp.Generation.Whisper;

/// <summary>How to decode speech with Whisper; null fields fall back to the model's generation defaults.</summary>
public sealed record WhisperDecodingOptions
{
    /// <summary>Language code or name; null = detect it per clip on a multilingual model (English-only models need none).</summary>
    public string? Language { get; init; }
    /// <summary>
    /// Transcribe (default: text in the spoken language) or translate (English text), as Whisper's task token.
    /// </summary>
    public WhisperTask Task { get; init; } = WhisperTask.Transcribe;
    /// <summary>
    /// null = greedy; N = beam search with N beams, ranked by sum log-prob / length (openai-whisper, length_penalty
    /// None). One beam gives greedy's tokens.
    /// </summary>
    public int? BeamSize { get; init; }
    /// <summary>Tokens to sample after the forced prefix; null = half the decoder's positions (openai-whisper's sample_len), at most what fits.</summary>
    public int? MaxNewTokens { get; init; }
    /// <summary>Ids never sampled; null = generation_config.json's / config.json's suppress_tokens, else Whisper's default list.</summary>
    public IReadOnlyList<int>? SuppressTokens { get; init; }
    /// <summary>Ids not sampled first; null = begin_suppress_tokens from the model's configs, else [" ", &lt;|endoftext|&gt;].</summary>
    public IReadOnlyList<int>? BeginSuppressTokens { get; init; }

    /// <summary>Checks what needs no model (beam size, token budget, language name), so a command can fail before it loads one.</summary>
    public WhisperDecodingOptions Validate()
    {
        if (BeamSize is < 1) throw new ConfigurationException($"beam size must be at least 1 (1 = greedy), found {BeamSize}");
        if (MaxNewTokens is < 1) throw new ConfigurationException($"max_new_tokens must be at least 1, found {MaxNewTokens}");
        if (Language is { } l && WhisperLanguages.ToCode(l) is null)
            throw new ConfigurationException($"language '{l}' is not a Whisper language: use a language code such as en, de or fr, or a name such as german");
        return this;
    }
}

/// <summary>One decoded clip: the sampled tokens (without the forced prefix and &lt;|endoftext|&gt;) and their text.</summary>
/// <param name="Tokens">The sampled token ids, without the forced prefix and the final &lt;|endoftext|&gt;.</param>
/// <param name="Text">The decoded text of <paramref name="Tokens"/>: special tokens dropped, surrounding whitespace trimmed.</param>
/// <param name="Prefix">The forced decoder prefix it was decoded after (start of transcript, language, task, no timestamps).</param>
/// <param name="Language">The language code used (given or detected); null for English-only models without one.</param>
/// <param name="SumLogProb">Sum of the sampled tokens' log-probabilities (the end-of-text token's included when sampled).</param>
/// <param name="EndedWithEndOfText">False when max new tokens ran out first.</param>
public sealed record WhisperTranscription(
    IReadOnlyList<int> Tokens, string Text, IReadOnlyList<int> Prefix, string? Language, double SumLogProb, bool EndedWithEndOfText);
