using PeftSharp.Audio;
using PeftSharp.Data.Speech;
using PeftSharp.Generation.Whisper;
using static TorchSharp.torch;

namespace PeftSharp.Evaluation;

/// <summary>Transcripts of an ASR set against their references: corpus WER and CER after Whisper's normalisation.</summary>
public sealed record AsrEvalResult(EditCounts Words, EditCounts Characters, IReadOnlyList<string> References, IReadOnlyList<string> Hypotheses, TimeSpan Elapsed)
{
    /// <summary>
    /// Corpus word error rate: total word edits over total reference words, after normalisation (0 = perfect; may
    /// exceed 1).
    /// </summary>
    public double Wer => Words.ErrorRate;
    /// <summary>
    /// Corpus character error rate: total character edits over total reference characters, after normalisation.
    /// </summary>
    public double Cer => Characters.ErrorRate;
    /// <summary>Seconds of audio in the evaluated examples (from the manifest's durations); 0 unless set.</summary>
    public double AudioSeconds { get; init; }
    /// <summary>Audio seconds transcribed per wall-clock second.</summary>
    public double RealTimeFactor => AudioSeconds / Math.Max(1e-9, Elapsed.TotalSeconds);
}

/// <summary>Transcribes each example (batched, greedy or beam) and scores it: what `eval --task asr` and the trainer's eval report.</summary>
public static class AsrEvaluation
{
    /// <summary>
    /// Transcribes every example with <paramref name="generator"/> and scores the transcripts against the references.
    /// Audio is read from each example's WAV file, resampled to 16 kHz and turned into log-mel features; when and any
    /// other batch is detected.
    /// </summary>
    /// <paramref name="options"/> names no language, a batch whose examples share one manifest language is forced to it
    /// <param name="generator">The Whisper model and tokens to decode with (base model, or with an adapter
    /// applied).</param>
    /// <param name="examples">The utterances to score, in order; must not be empty.</param>
    /// <param name="filters">The model's mel filterbank (its num_mel_bins).</param>
    /// <param name="options">Decoding settings (greedy or beam, language, task, token budget).</param>
    /// <param name="batchSize">Clips decoded together; default 8. Larger is faster but needs more memory.</param>
    /// <exception cref="ConfigurationException"><paramref name="examples"/> is empty.</exception>
    /// <exception cref="InvalidFileFormatException">An example's audio file is not a supported WAV file.</exception>
    /// <param name="normalizer">Whisper's English normaliser by default; <see cref="WhisperTextNormalizer.Basic"/> for other languages.</param>
    /// <param name="ignoreWhitespace">CER over characters without spaces (languages written without them).</param>
    public static AsrEvalResult Run(WhisperGenerator generator, IReadOnlyList<AsrExample> examples, MelFilterBank filters, WhisperDecodingOptions options,
        int batchSize = 8, WhisperTextNormalizer? normalizer = null, bool ignoreWhitespace = false)
    {
        if (examples.Count == 0) throw new ConfigurationException("the ASR evaluation set is empty: check the manifest");
        normalizer ??= new WhisperTextNormalizer(english: true);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var hypotheses = new List<string>(examples.Count);
        for (int start = 0; start < examples.Count; start += batchSize)
        {
            using var scope = NewDisposeScope();
            var group = examples.Skip(start).Take(batchSize).ToList();
            var features = stack(group.Select(e => LogMelSpectrogram.FromWav(e.AudioPath, filters)).ToArray());
            // A manifest's per-clip language is forced when the whole batch shares it; otherwise it is detected.
            var language = options.Language ?? (group.Select(e => e.Language).Distinct().ToList() is [var only] ? only : null);
            foreach (var t in generator.Generate(features, options with { Language = language }))
                hypotheses.Add(t.Text);
        }
        var references = examples.Select(e => e.Text).ToList();
        var words = WordErrorRate.Counts(references, hypotheses, normalizer.Normalize);
        var chars = CharacterErrorRate.Counts(references, hypotheses, ignoreWhitespace, normalizer.Normalize);
        return new AsrEvalResult(words, chars, references, hypotheses, watch.Elapsed) { AudioSeconds = examples.Sum(e => e.DurationSeconds) };
    }
}
