using static TorchSharp.torch;

namespace PeftSharp.Training.Optimization;

/// <summary>Decides whether a named parameter gets weight decay.</summary>
public delegate bool WeightDecayRule(string name, Tensor parameter);

/// <summary>Ready-made <see cref="WeightDecayRule"/>s.</summary>
public static class WeightDecayRules
{
    /// <summary>
    /// The HF/nanoGPT convention: no decay for biases (name ends with "bias"), norm weights (name contains "norm",
    /// any case) and any 1-D or scalar tensor (gains, scales); decay for matrices. Decaying a norm gain pulls it
    /// toward 0 instead of 1, which only hurts.
    /// </summary>
    public static bool Default(string name, Tensor parameter) =>
        !(name.EndsWith("bias", StringComparison.Ordinal)
          || name.Contains("norm", StringComparison.OrdinalIgnoreCase)
          || parameter.dim() <= 1);

    /// <summary>Every parameter decays (torch's behavior when given one group).</summary>
    public static bool All(string name, Tensor parameter) => true;
}
