using static TorchSharp.torch;

namespace PeftSharp.Training;

/// <summary>How <see cref="AsrBatchSource"/> orders and shapes its micro-batches.</summary>
public sealed record AsrBatchOptions
{
    /// <summary>Clips per micro-batch (HF per_device_train_batch_size); at least 1, default 8.</summary>
    public int BatchSize { get; init; } = 8;
    /// <summary>The epoch order is System.Random(Seed + epoch), as the text batcher's, so a resumed run sees the same data.</summary>
    public int Seed { get; init; } = 42;
    /// <summary>
    /// Shuffle the clip order each epoch (default true); false keeps manifest order, as evaluation wants.
    /// </summary>
    public bool Shuffle { get; init; } = true;
    /// <summary>The dtype of the log-mel features (computed in fp32, then cast): bf16 for a bf16 encoder.</summary>
    public ScalarType FeatureDtype { get; init; } = ScalarType.Float32;
    /// <summary>
    /// Memory for keeping computed fp32 features between epochs (least recently used dropped first); 0 turns it off.
    /// The default 256 MiB holds ~270 clips at 80 mels (0.96 MB each), ~170 at 128: a demo-sized set is computed once.
    /// </summary>
    public long FeatureCacheBytes { get; init; } = 256L << 20;
}
