namespace PeftSharp.Generation;

/// <summary>
/// How tokens are chosen, with Hugging Face's meanings: temperature 0 (or DoSample false) is greedy; top-k 0 and
/// top-p 1 switch those filters off; repetition penalty 1 is none.
/// </summary>
public sealed record SamplingOptions
{
    /// <summary>
    /// Upper limit on generated tokens, not counting the prompt (transformers' max_new_tokens); default 128, must be >=
    /// 0.
    /// </summary>
    public int MaxNewTokens { get; init; } = 128;
    /// <summary>
    /// Sample from the distribution instead of taking the most likely token (transformers' do_sample); default false
    /// (greedy).
    /// </summary>
    public bool DoSample { get; init; }
    /// <summary>
    /// Divides the logits before sampling: below 1 sharpens, above 1 flattens; 0 means greedy. Default 1; must be >= 0.
    /// </summary>
    public double Temperature { get; init; } = 1.0;
    /// <summary>Keep only the k most likely tokens before sampling; 0 (default) keeps all.</summary>
    public int TopK { get; init; }
    /// <summary>
    /// Nucleus sampling: keep the smallest set of most likely tokens whose probability reaches p; in (0, 1], 1
    /// (default) keeps all.
    /// </summary>
    public double TopP { get; init; } = 1.0;
    /// <summary>
    /// transformers' repetition_penalty (CTRL's rule) for tokens already in the prompt or output: above 1 discourages
    /// repeats; 1 (default) is off; must be > 0.
    /// </summary>
    public double RepetitionPenalty { get; init; } = 1.0;
    /// <summary>
    /// Seed of the sampling generator, for reproducible draws; null (default) draws a random seed. Unused when greedy.
    /// </summary>
    public long? Seed { get; init; }
    /// <summary>Generation ends after any of these ids; empty = only at MaxNewTokens.</summary>
    public IReadOnlyCollection<int> StopTokenIds { get; init; } = Array.Empty<int>();
    /// <summary>Reuse keys/values of past positions (false recomputes the whole sequence each step, for checks).</summary>
    public bool UseKvCache { get; init; } = true;

    /// <summary>
    /// True when tokens are picked by argmax: <see cref="DoSample"/> is false or <see cref="Temperature"/> is 0.
    /// </summary>
    public bool IsGreedy => !DoSample || Temperature <= 0;

    /// <summary>Checks the ranges given on each property.</summary>
    /// <exception cref="ConfigurationException">A value is out of range (the message names it with its transformers
    /// name).</exception>
    public void Validate()
    {
        if (MaxNewTokens < 0) throw new ConfigurationException($"max_new_tokens must be >= 0, found {MaxNewTokens}");
        if (double.IsNaN(Temperature) || Temperature < 0) throw new ConfigurationException($"temperature must be >= 0, found {Temperature}");
        if (TopK < 0) throw new ConfigurationException($"top_k must be >= 0 (0 = off), found {TopK}");
        if (double.IsNaN(TopP) || TopP <= 0 || TopP > 1) throw new ConfigurationException($"top_p must be in (0, 1], found {TopP}");
        if (double.IsNaN(RepetitionPenalty) || RepetitionPenalty <= 0) throw new ConfigurationException($"repetition_penalty must be > 0 (1 = off), found {RepetitionPenalty}");
    }
}
