using static TorchSharp.torch;

namespace PeftSharp.Training;

/// <summary>
/// One micro-batch as the loop consumes it. Causal LM: int64 [B, T] ids and labels (-100 where nothing is predicted).
/// Classification: labels are class ids [B]. Speech-to-text: <see cref="InputFeatures"/> holds the log-mel
/// spectrograms [B, mels, frames], InputIds the decoder inputs and Labels the decoder targets, aligned (not shifted).
/// </summary>
public sealed record TrainingBatch(Tensor InputIds, Tensor Labels, Tensor? AttentionMask = null, Tensor? PositionIds = null, Tensor? SequenceIds = null,
    Tensor? InputFeatures = null) : IDisposable
{
    /// <summary>A copy of the batch on <paramref name="device"/> (this one is unchanged; the caller disposes both).</summary>
    public TrainingBatch To(Device device) =>
        new(InputIds.to(device), Labels.to(device), AttentionMask?.to(device), PositionIds?.to(device), SequenceIds?.to(device), InputFeatures?.to(device));

    /// <summary>Disposes every tensor of the batch; the loop does this after each step.</summary>
    public void Dispose()
    {
        InputIds.Dispose();
        Labels.Dispose();
        AttentionMask?.Dispose();
        PositionIds?.Dispose();
        SequenceIds?.Dispose();
        InputFeatures?.Dispose();
    }
}

/// <summary>Micro-batches per epoch, in a deterministic order for a given epoch (so a resumed run sees the same data).</summary>
public interface IBatchSource
{
    /// <summary>
    /// Micro-batches in one epoch (the same every epoch); the trainer's step count is derived from it.
    /// </summary>
    int BatchesPerEpoch { get; }
    /// <summary>
    /// The micro-batches of epoch <paramref name="epoch"/> (0-based), built lazily; the same epoch number always gives
    /// the same batches. The caller disposes each one.
    /// </summary>
    IEnumerable<TrainingBatch> Epoch(int epoch);

    /// <summary>
    /// The micro-batches of epoch <paramref name="epoch"/> whose index <paramref name="include"/> accepts, with their
    /// index, in order: a rank's shard in data-parallel training. A source that can plan without building overrides
    /// it to build only those; this default builds every batch and disposes the others.
    /// </summary>
    IEnumerable<(int Index, TrainingBatch Batch)> Epoch(int epoch, Func<int, bool> include)
    {
        int index = 0;
        foreach (var batch in Epoch(epoch))
        {
            if (include(index)) yield return (index, batch);
            else batch.Dispose();
            index++;
        }
    }
}
