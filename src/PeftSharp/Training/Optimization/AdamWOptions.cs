using System.Globalization;

namespace PeftSharp.Training.Optimization;

/// <summary>
/// AdamW hyper-parameters, with torch's defaults except weight decay, which is 0 as in HF TrainingArguments.
/// </summary>
public sealed record AdamWOptions
{
    /// <summary>
    /// The initial learning rate (torch's lr); finite and at least 0, default 1e-3. A schedule overrides it per step.
    /// </summary>
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>Decay of the first-moment average (torch's betas[0]); in [0, 1), default 0.9.</summary>
    public double Beta1 { get; init; } = 0.9;
    /// <summary>Decay of the second-moment average (torch's betas[1]); in [0, 1), default 0.999.</summary>
    public double Beta2 { get; init; } = 0.999;
    /// <summary>Added to the denominator sqrt(v̂) + eps (torch's eps); at least 0, default 1e-8.</summary>
    public double Eps { get; init; } = 1e-8;
    /// <summary>Decoupled decay (p -= lr * wd * p), applied only to groups the weight-decay rule selects.</summary>
    public double WeightDecay { get; init; }

    /// <summary>Checks the ranges above.</summary>
    /// <exception cref="ConfigurationException">A value is out of range.</exception>
    public void Validate()
    {
        if (!(LearningRate >= 0) || double.IsInfinity(LearningRate))
            throw new ConfigurationException($"learning rate must be a finite number >= 0, not {LearningRate}");
        if (!(Beta1 >= 0 && Beta1 < 1)) throw new ConfigurationException($"beta1 must be in [0, 1), not {Beta1}");
        if (!(Beta2 >= 0 && Beta2 < 1)) throw new ConfigurationException($"beta2 must be in [0, 1), not {Beta2}");
        if (!(Eps >= 0)) throw new ConfigurationException($"eps must be >= 0, not {Eps}");
        if (!(WeightDecay >= 0)) throw new ConfigurationException($"weight_decay must be >= 0, not {WeightDecay}");
    }

    /// <summary>The values as round-trippable invariant strings, with HF/torch key names.</summary>
    public Dictionary<string, string> ToStrings() => new()
    {
        ["lr"] = Format(LearningRate),
        ["beta1"] = Format(Beta1),
        ["beta2"] = Format(Beta2),
        ["eps"] = Format(Eps),
        ["weight_decay"] = Format(WeightDecay),
    };

    internal static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
