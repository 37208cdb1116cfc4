using PeftSharp.Models.Whisper;
using PeftSharp.Tokenization.Whisper;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Generation.Whisper;

/// <summary>
/// Decodes log-mel features into text with a Whisper model: forced prefix (start of transcript, language, task,
/// no timestamps), Whisper's token suppression, greedy or beam search with a KV cache, several clips per batch (rows
/// finish independently), and language detection when no language is given to a multilingual model.
/// </summary>
public sealed class WhisperGenerator
{
    readonly WhisperForConditionalGeneration model;
    readonly WhisperGenerationConfig? defaults;

    /// <summary>
    /// The tokenizer's special tokens (start of transcript, languages, tasks, end of text) used to build prefixes and
    /// stop.
    /// </summary>
    public WhisperSpecialTokens Tokens { get; }

    /// <summary>A generator for <paramref name="model"/>.</summary>
    /// <param name="model">The Whisper model (with or without an adapter).</param>
    /// <param name="tokens">Its tokenizer's special token ids.</param>
    /// <param name="defaults">The model's generation_config.json, for suppress lists and a default language; null =
    /// Whisper's built-in defaults.</param>
    public WhisperGenerator(WhisperForConditionalGeneration model, WhisperSpecialTokens tokens, WhisperGenerationConfig? defaults = null)
    {
        this.model = model;
        Tokens = tokens;
        this.defaults = defaults;
    }

    /// <summary>Transcribes (or translates) each clip of <paramref name="inputFeatures"/> [B, num_mel_bins, 3000].</summary>
    public IReadOnlyList<WhisperTranscription> Generate(Tensor inputFeatures, WhisperDecodingOptions? options = null)
    {
        options ??= new WhisperDecodingOptions();
        if (options.BeamSize is < 1) throw new ConfigurationException($"beam size must be at least 1, found {options.BeamSize}");
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var encoded = model.Encode(inputFeatures.to(ComputeDevice.Of(model))); // features are computed on the CPU
        long batch = encoded.shape[0];
        var languages = ResolveLanguages(encoded, options.Language ?? defaults?.Language);
        var prefixes = languages.Select(l => Tokens.SotSequence(l, options.Task)).ToList();
        int maxNew = MaxNewTokens(options, prefixes[0].Count);
        var suppression = Suppression(options);
        var decoded = options.BeamSize is { } beams
            ? new WhisperBeamSearch(model, Tokens.EndOfText, beams).Run(encoded, prefixes, maxNew, suppression)
            : Greedy(encoded, prefixes, maxNew, suppression);
        return Enumerable.Range(0, (int)batch).Select(i =>
            new WhisperTranscription(decoded[i].Tokens, Tokens.DecodeText(decoded[i].Tokens), prefixes[i], languages[i], decoded[i].SumLogProb, decoded[i].Ended)).ToList();
    }

    /// <summary>
    /// The most likely language of each clip: the decoder's first prediction after &lt;|startoftranscript|&gt;,
    /// restricted to language tokens (openai-whisper's detect_language).
    /// </summary>
    public IReadOnlyList<string> DetectLanguage(Tensor encoderHidden)
    {
        if (!Tokens.IsMultilingual) throw new ConfigurationException("language detection needs a multilingual Whisper model; this one is English-only");
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        long batch = encoderHidden.shape[0];
        var sot = full(batch, 1, Tokens.StartOfTranscript, dtype: ScalarType.Int64, device: encoderHidden.device);
        var logits = model.Decode(sot, encoderHidden).select(1, 0);
        var languageIds = tensor(Tokens.LanguageTokenIds.Select(i => (long)i).ToArray(), device: logits.device);
        var best = logits.index_select(1, languageIds).argmax(1).cpu().data<long>().ToArray();
        return best.Select(b => Tokens.LanguageCode(Tokens.LanguageTokenIds[(int)b])).ToList();
    }

    IReadOnlyList<string?> ResolveLanguages(Tensor encoded, string? language)
    {
        long batch = encoded.shape[0];
        if (language is not null || !Tokens.IsMultilingual) return Enumerable.Repeat(language, (int)batch).ToList();
        return DetectLanguage(encoded).Cast<string?>().ToList();
    }

    int MaxNewTokens(WhisperDecodingOptions options, int prefixLength)
    {
        int room = model.Config.MaxTargetPositions - prefixLength;
        int requested = options.MaxNewTokens ?? defaults?.MaxNewTokens ?? model.Config.MaxTargetPositions / 2;
        if (requested < 1 || requested > room)
            throw new ConfigurationException(
                $"max new tokens {requested} is out of range: Whisper's decoder has {model.Config.MaxTargetPositions} positions (max_target_positions) and the prefix takes {prefixLength}, so use 1..{room}");
        return requested;
    }

    WhisperSuppression Suppression(WhisperDecodingOptions options) => new(
        options.SuppressTokens ?? defaults?.SuppressTokens ?? model.Config.SuppressTokens ?? Tokens.DefaultSuppressTokens,
        options.BeginSuppressTokens ?? defaults?.BeginSuppressTokens ?? model.Config.BeginSuppressTokens ?? Tokens.BlankSuppressTokens,
        model.Config.VocabSize);

    internal sealed record Decoded(IReadOnlyList<int> Tokens, double SumLogProb, bool Ended);

    /// <summary>Argmax decoding of every row at once; a row that sampled end-of-text keeps being fed it until all rows end.</summary>
    IReadOnlyList<Decoded> Greedy(Tensor encoded, IReadOnlyList<IReadOnlyList<int>> prefixes, int maxNew, WhisperSuppression suppression)
    {
        int batch = prefixes.Count, eot = Tokens.EndOfText;
        var sampled = Enumerable.Range(0, batch).Select(_ => new List<int>()).ToArray();
        var sums = new double[batch];
        var ended = new bool[batch];
        using var cache = model.NewCache();
        var input = PrefixTensor(prefixes, encoded.device);
        for (int step = 0; step < maxNew; step++)
        {
            using var scope = NewDisposeScope();
            var logits = model.Decode(input, encoded, cache).select(1, -1).to(ScalarType.Float32);
            suppression.Apply(logits, firstStep: step == 0);
            var logProbs = logits.log_softmax(1);
            var next = logits.argmax(1);
            var best = next.cpu().data<long>().ToArray();
            var chosen = logProbs.gather(1, next.unsqueeze(1)).squeeze(1).cpu().data<float>().ToArray();
            var feed = new long[batch];
            for (int i = 0; i < batch; i++)
            {
                feed[i] = ended[i] ? eot : best[i];
                if (ended[i]) continue;
                sums[i] += chosen[i];
                if (best[i] == eot) ended[i] = true;
                else sampled[i].Add((int)best[i]);
            }
            if (ended.All(e => e)) break;
            input.Dispose();
            input = tensor(feed, new long[] { batch, 1 }, device: encoded.device).DetachFromDisposeScope();
        }
        input.Dispose();
        return Enumerable.Range(0, batch).Select(i => new Decoded(sampled[i], sums[i], ended[i])).ToList();
    }

    internal static Tensor PrefixTensor(IReadOnlyList<IReadOnlyList<int>> prefixes, Device device) =>
        tensor(prefixes.SelectMany(p => p.Select(i => (long)i)).ToArray(), new long[] { prefixes.Count, prefixes[0].Count }, device: device).DetachFromDisposeScope();
}
