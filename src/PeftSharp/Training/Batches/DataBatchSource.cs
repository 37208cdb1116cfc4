using PeftSharp.Data;

namespace PeftSharp.Training;

/// <summary>The data layer's batcher as the loop's batch source: packed rows carry sequence ids, padded ones a mask.</summary>
public sealed class DataBatchSource : IBatchSource
{
    readonly Batcher batcher;
    readonly bool packing;
    readonly int batchesPerEpoch;

    /// <summary>
    /// Wraps a <see cref="Batcher"/> over <paramref name="examples"/> with <paramref name="options"/>.
    /// </summary>
    /// <exception cref="ConfigurationException">The batch size or max_seq_length is below 1.</exception>
    public DataBatchSource(IReadOnlyList<TokenizedExample> examples, BatcherOptions options)
    {
        batcher = new Batcher(examples, options);
        packing = options.Packing;
        batchesPerEpoch = batcher.BatchesPerEpoch;
    }

    /// <inheritdoc/>
    public int BatchesPerEpoch => batchesPerEpoch;

    /// <summary>
    /// The batcher's batches as <see cref="TrainingBatch"/>es: packed ones carry position and sequence ids and no
    /// attention mask (attention is kept within each example by the sequence ids); padded ones carry the attention
    /// mask.
    /// </summary>
    public IEnumerable<TrainingBatch> Epoch(int epoch) => batcher.Epoch(epoch).Select(ToTrainingBatch);

    /// <summary>Only the batches <paramref name="include"/> accepts are built (a rank's shard in data-parallel training).</summary>
    public IEnumerable<(int Index, TrainingBatch Batch)> Epoch(int epoch, Func<int, bool> include) =>
        batcher.Epoch(epoch, include).Select(b => (b.Index, ToTrainingBatch(b.Batch)));

    TrainingBatch ToTrainingBatch(Batch b)
    {
        if (packing)
        {
            b.AttentionMask.Dispose();
            return new TrainingBatch(b.InputIds, b.Labels, null, b.PositionIds, b.SequenceIds);
        }
        b.PositionIds.Dispose();
        b.SequenceIds.Dispose();
        return new TrainingBatch(b.InputIds, b.Labels, b.AttentionMask);
    }
}
