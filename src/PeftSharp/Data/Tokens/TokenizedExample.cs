namespace PeftSharp.Data;

/// <summary>One example's token ids and labels (label -100: not in the loss). Both have the same length.</summary>
public sealed record TokenizedExample(int[] InputIds, int[] Labels)
{
    /// <summary>
    /// The label that leaves a token out of the loss: -100, PyTorch's cross_entropy ignore_index default (HF uses it
    /// too).
    /// </summary>
    public const int IgnoreIndex = -100;
    /// <summary>Number of tokens.</summary>
    public int Length => InputIds.Length;
    /// <summary>
    /// Number of labels that count in the loss (not <see cref="IgnoreIndex"/>); counted on each call.
    /// </summary>
    public int TrainableTokens => Labels.Count(l => l != IgnoreIndex);
}
