using PeftSharp.Data;

namespace PeftSharp.Training;

/// <summary>The data layer's batcher as the loop's batch source: packed rows carry sequence ids, padded ones a mask.</summary>
public sealed class DataBatchSource : IBatchSource
{
    readonly Batcher batcher;
    readonly bool packing;
    readonly int batchesPerEpoch;

    public DataBatchSource(IReadOnlyList<TokenizedExample> examples, BatcherOptions options)
    {
        batcher = new Batcher(examples, options);
        packing = options.Packing;
        batchesPerEpoch = batcher.BatchesPerEpoch;
    }

    public int BatchesPerEpoch => batchesPerEpoch;

    public IEnumerable<TrainingBatch> Epoch(int epoch)
    {
        foreach (var b in batcher.Epoch(epoch))
        {
            if (packing)
            {
                b.AttentionMask.Dispose();
                yield return new TrainingBatch(b.InputIds, b.Labels, null, b.PositionIds, b.SequenceIds);
            }
            else
            {
                b.PositionIds.Dispose();
                b.SequenceIds.Dispose();
                yield return new TrainingBatch(b.InputIds, b.Labels, b.AttentionMask);
            }
        }
    }
}
