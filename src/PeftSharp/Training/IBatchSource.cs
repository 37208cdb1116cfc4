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
    int BatchesPerEpoch { get; }
    IEnumerable<TrainingBatch> Epoch(int epoch);
}
