using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Generation.Whisper;

/// <summary>
/// Whisper's logit filters without timestamps: <see cref="EveryStep"/> ids are never sampled (SuppressTokens), and
/// <see cref="FirstStep"/> ids are not sampled first (SuppressBlank: a leading space or an empty transcript).
/// </summary>
public sealed class WhisperSuppression
{
    /// <summary>Ids masked to -inf at every decoding step (generation_config's suppress_tokens).</summary>
    public IReadOnlyList<int> EveryStep { get; }
    /// <summary>
    /// Ids masked to -inf at the first sampled step only (begin_suppress_tokens: a leading space, end of text).
    /// </summary>
    public IReadOnlyList<int> FirstStep { get; }
    readonly long[] every, first;

    /// <summary>Creates the filter.</summary>
    /// <param name="everyStep">Ids never sampled.</param>
    /// <param name="firstStep">Ids not sampled first.</param>
    /// <param name="vocabSize">The decoder's vocabulary size; every id must be below it.</param>
    /// <exception cref="ConfigurationException">An id is negative or not below <paramref
    /// name="vocabSize"/>.</exception>
    public WhisperSuppression(IReadOnlyList<int> everyStep, IReadOnlyList<int> firstStep, int vocabSize)
    {
        foreach (var id in everyStep.Concat(firstStep))
            if (id < 0 || id >= vocabSize)
                throw new ConfigurationException($"suppressed token id {id} is outside the vocabulary (0..{vocabSize - 1}): fix suppress_tokens / begin_suppress_tokens");
        EveryStep = everyStep;
        FirstStep = firstStep;
        every = everyStep.Select(i => (long)i).ToArray();
        first = firstStep.Select(i => (long)i).ToArray();
    }

    /// <summary>Sets the suppressed logits of [N, vocab] to -inf in place; <paramref name="firstStep"/> adds the first-step list.</summary>
    public void Apply(Tensor logits, bool firstStep)
    {
        // An explicit Scalar: TorchSharp 0.107's implicit double -> Scalar can be collected during the native call,
        // which fails the fill at random ("Expected false to be true" in Scalar::toFloat).
        using var minusInf = double.NegativeInfinity.ToScalar();
        if (every.Length > 0) using (var ids = tensor(every, device: logits.device)) logits.index_fill_(1, ids, minusInf);
        if (firstStep && first.Length > 0) using (var ids = tensor(first, device: logits.device)) logits.index_fill_(1, ids, minusInf);
    }
}
