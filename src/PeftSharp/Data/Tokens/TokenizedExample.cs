namespace PeftSharp.Data;

/// <summary>One example's token ids and labels (label -100: not in the loss). Both have the same length.</summary>
public sealed record TokenizedExample(int[] InputIds, int[] Labels)
{
    public const int IgnoreIndex = -100;
    public int Length => InputIds.Length;
    public int TrainableTokens => Labels.Count(l => l != IgnoreIndex);
}
