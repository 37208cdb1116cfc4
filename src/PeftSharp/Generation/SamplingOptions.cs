namespace PeftSharp.Generation;

/// <summary>
/// How tokens are chosen, with Hugging Face's meanings: temperature 0 (or DoSample false) is greedy; top-k 0 and
/// top-p 1 switch those filters off; repetition penalty 1 is none.
/// </summary>
public sealed record SamplingOptions
{
    public int MaxNewTokens { get; init; } = 128;
    public bool DoSample { get; init; }
    public double Temperature { get; init; } = 1.0;
    public int TopK { get; init; }
    public double TopP { get; init; } = 1.0;
    public double RepetitionPenalty { get; init; } = 1.0;
    public long? Seed { get; init; }
    /// <summary>Generation ends after any of these ids; empty = only at MaxNewTokens.</summary>
    public IReadOnlyCollection<int> StopTokenIds { get; init; } = Array.Empty<int>();
    /// <summary>Reuse keys/values of past positions (false recomputes the whole sequence each step, for checks).</summary>
    public bool UseKvCache { get; init; } = true;

    public bool IsGreedy => !DoSample || Temperature <= 0;

    public void Validate()
    {
        if (MaxNewTokens < 0) throw new ConfigurationException($"max_new_tokens must be >= 0, found {MaxNewTokens}");
        if (double.IsNaN(Temperature) || Temperature < 0) throw new ConfigurationException($"temperature must be >= 0, found {Temperature}");
        if (TopK < 0) throw new ConfigurationException($"top_k must be >= 0 (0 = off), found {TopK}");
        if (double.IsNaN(TopP) || TopP <= 0 || TopP > 1) throw new ConfigurationException($"top_p must be in (0, 1], found {TopP}");
        if (double.IsNaN(RepetitionPenalty) || RepetitionPenalty <= 0) throw new ConfigurationException($"repetition_penalty must be > 0 (1 = off), found {RepetitionPenalty}");
    }
}
