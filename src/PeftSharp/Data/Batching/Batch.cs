using TorchSharp;

namespace PeftSharp.Data;

/// <summary>
/// One micro-batch, all int64 [B, T]: labels are -100 on padding and on prompt tokens; AttentionMask is 1 on real
/// tokens; PositionIds restart at 0 for each packed example; SequenceIds number the examples of a row 0, 1, ...
/// (-1 on padding) so a model can make attention block-diagonal. Tokens counts non-pad tokens.
/// </summary>
public sealed record Batch(
    torch.Tensor InputIds,
    torch.Tensor Labels,
    torch.Tensor AttentionMask,
    torch.Tensor PositionIds,
    torch.Tensor SequenceIds,
    long Tokens,
    long TrainableTokens) : IDisposable
{
    /// <summary>
    /// Disposes the five tensors of the batch. Batches are built lazily by <see cref="Batcher.Epoch(int)"/>; dispose each
    /// one after its step so native memory stays flat.
    /// </summary>
    public void Dispose()
    {
        InputIds.Dispose();
        Labels.Dispose();
        AttentionMask.Dispose();
        PositionIds.Dispose();
        SequenceIds.Dispose();
    }
}
