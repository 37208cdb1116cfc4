using static TorchSharp.torch;

namespace PeftSharp.Generation;

/// <summary>Turns next-token logits into a token: repetition penalty, temperature, top-k, top-p, then argmax or a draw.</summary>
public sealed class TokenSampler : IDisposable
{
    readonly SamplingOptions options;
    readonly Generator? generator;

    /// <summary>
    /// Creates a sampler; when sampling, its own generator is seeded from <see cref="SamplingOptions.Seed"/> (or
    /// randomly).
    /// </summary>
    /// <exception cref="ConfigurationException">An option is out of range (<see
    /// cref="SamplingOptions.Validate"/>).</exception>
    public TokenSampler(SamplingOptions options)
    {
        options.Validate();
        this.options = options;
        if (!options.IsGreedy)
        {
            generator = new Generator();
            generator.manual_seed(options.Seed ?? Random.Shared.NextInt64());
        }
    }

    /// <summary>Picks the next id from fp32 logits [vocab], given the ids so far (for the repetition penalty).</summary>
    public int Next(Tensor logits, IReadOnlyList<int> seen)
    {
        using var scope = NewDisposeScope();
        var scores = ApplyRepetitionPenalty(logits, seen, options.RepetitionPenalty);
        if (options.IsGreedy) return (int)scores.argmax().item<long>();
        scores = scores / options.Temperature;
        if (options.TopK > 0) scores = TopK(scores, options.TopK);
        if (options.TopP < 1.0) scores = TopP(scores, options.TopP);
        var probs = scores.softmax(-1);
        return (int)multinomial(probs, 1, false, generator).item<long>();
    }

    /// <summary>HF's rule: a seen token's positive score is divided by the penalty, a negative one multiplied.</summary>
    public static Tensor ApplyRepetitionPenalty(Tensor logits, IReadOnlyList<int> seen, double penalty)
    {
        if (penalty == 1.0 || seen.Count == 0) return logits;
        var ids = tensor(seen.Distinct().Select(i => (long)i).ToArray());
        var picked = logits.index_select(0, ids);
        var penalized = where(picked.lt(0), picked * penalty, picked / penalty);
        return logits.index_copy(0, ids, penalized);
    }

    /// <summary>
    /// Sets every score below the k-th largest to -inf (ties with it kept), as transformers' TopKLogitsWarper; returns
    /// </summary>
    /// <paramref name="scores"/> unchanged when k is at least the vocabulary size.
    /// <param name="scores">Scores [vocab].</param>
    /// <param name="k">Tokens to keep, at least 1.</param>
    public static Tensor TopK(Tensor scores, int k)
    {
        if (k >= scores.shape[0]) return scores;
        var kth = scores.topk(k).values[-1];
        return scores.masked_fill(scores.lt(kth), double.NegativeInfinity);
    }

    /// <summary>Keeps the smallest set of top tokens whose probability reaches p (at least one token).</summary>
    public static Tensor TopP(Tensor scores, double p)
    {
        var (sorted, order) = scores.sort(descending: true);
        var cumulative = sorted.softmax(-1).cumsum(-1);
        // A token is dropped when the tokens before it already reach p.
        var dropSorted = (cumulative - sorted.softmax(-1)).ge(p);
        var drop = zeros_like(dropSorted).scatter(0, order, dropSorted);
        return scores.masked_fill(drop, double.NegativeInfinity);
    }

    /// <summary>Releases the sampling generator.</summary>
    public void Dispose() => generator?.Dispose();
}
