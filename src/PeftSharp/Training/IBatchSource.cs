using static TorchSharp.torch;

namespace PeftSharp.Training;

/// <summary>One micro-batch as the loop consumes it (int64 tensors [B, T]; labels -100 where nothing is predicted).</summary>
public sealed record TrainingBatch(Tensor InputIds, Tensor Labels, Tensor? AttentionMask = null, Tensor? PositionIds = null, Tensor? SequenceIds = null) : IDisposable
{
    public void Dispose()
    {
        InputIds.Dispose();
        Labels.Dispose();
        AttentionMask?.Dispose();
        PositionIds?.Dispose();
        SequenceIds?.Dispose();
    }
}

/// <summary>Micro-batches per epoch, in a deterministic order for a given epoch (so a resumed run sees the same data).</summary>
public interface IBatchSource
{
    int BatchesPerEpoch { get; }
    IEnumerable<TrainingBatch> Epoch(int epoch);
}
