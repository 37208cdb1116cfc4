using static TorchSharp.torch;

namespace PeftSharp.Training;

/// <summary>
/// Next-token cross-entropy in fp32: logits at position t predict labels at t+1; labels of -100 (prompt tokens,
/// padding, packed-example boundaries) are ignored. Returns the summed loss and the number of predicted tokens, so
/// gradient accumulation can divide by the tokens of the whole accumulated batch (every token weighs the same).
/// </summary>
public static class CausalLmLoss
{
    /// <summary>
    /// The label that is not predicted: -100, PyTorch's cross_entropy ignore_index default and
    /// <see cref="Data.TokenizedExample.IgnoreIndex"/>.
    /// </summary>
    public const long IgnoreIndex = -100;

    /// <summary>The summed next-token cross-entropy of a batch.</summary>
    /// <param name="logits">[B, T, vocab], any float dtype (converted to fp32).</param>
    /// <param name="labels">[B, T] int64, unshifted (the same positions as the input ids).</param>
    /// <returns>The fp32 scalar sum over predicted tokens (differentiable) and the number of predicted tokens; divide the first by the second for the mean (HF's loss).</returns>
    public static (Tensor Sum, long Tokens) Compute(Tensor logits, Tensor labels)
    {
        using var scope = NewDisposeScope();
        long v = logits.shape[^1];
        var shiftedLogits = logits.narrow(1, 0, logits.shape[1] - 1).reshape(-1, v).to(ScalarType.Float32);
        var shiftedLabels = labels.narrow(1, 1, labels.shape[1] - 1).reshape(-1);
        long tokens = shiftedLabels.ne(IgnoreIndex).sum().item<long>();
        var sum = nn.functional.cross_entropy(shiftedLogits, shiftedLabels, ignore_index: IgnoreIndex, reduction: nn.Reduction.Sum);
        return (sum.MoveToOuterDisposeScope(), tokens);
    }
}
