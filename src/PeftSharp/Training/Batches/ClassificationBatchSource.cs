using PeftSharp.Data.Classification;
using static TorchSharp.torch;

namespace PeftSharp.Training;

/// <summary>
/// Micro-batches of texts for a classifier: right-padded ids with an attention mask, labels [B]. Training order is a
/// seeded shuffle per epoch, so a resumed run sees the same batches; evaluation keeps file order.
/// </summary>
public sealed class ClassificationBatchSource : IBatchSource
{
    readonly IReadOnlyList<ClassificationExample> examples;
    readonly int batchSize, padId, seed;
    readonly bool shuffle;

    /// <summary>Batches over tokenized texts.</summary>
    /// <param name="examples">The examples (token ids and label id).</param>
    /// <param name="batchSize">Texts per micro-batch (micro_batch_size); at least 1.</param>
    /// <param name="padId">The id right padding is filled with (masked out by the attention mask).</param>
    /// <param name="shuffle">Shuffle per epoch (training) or keep file order (evaluation).</param>
    /// <param name="seed">Seed of the per-epoch shuffle; default 42.</param>
    /// <exception cref="ConfigurationException"><paramref name="batchSize"/> is below 1.</exception>
    public ClassificationBatchSource(IReadOnlyList<ClassificationExample> examples, int batchSize, int padId, bool shuffle, int seed = 42)
    {
        if (batchSize < 1) throw new ConfigurationException($"micro_batch_size must be at least 1, found {batchSize}");
        this.examples = examples;
        this.batchSize = batchSize;
        this.padId = padId;
        this.shuffle = shuffle;
        this.seed = seed;
    }

    /// <inheritdoc/>
    public int BatchesPerEpoch => (examples.Count + batchSize - 1) / batchSize;

    /// <summary>Example indices in the order epoch <paramref name="epoch"/> visits them.</summary>
    public int[] Order(int epoch)
    {
        var order = Enumerable.Range(0, examples.Count).ToArray();
        if (shuffle) new Random(HashCode.Combine(seed, epoch)).Shuffle(order);
        return order;
    }

    /// <inheritdoc/>
    public IEnumerable<TrainingBatch> Epoch(int epoch)
    {
        var order = Order(epoch);
        for (int start = 0; start < order.Length; start += batchSize)
            yield return Collate(order.Skip(start).Take(batchSize).Select(i => examples[i]).ToList(), padId);
    }

    /// <summary>Right-pads a group of examples into one batch (labels -1 when the examples are unlabelled).</summary>
    public static TrainingBatch Collate(IReadOnlyList<ClassificationExample> group, int padId)
    {
        int b = group.Count, t = Math.Max(1, group.Max(e => e.InputIds.Length));
        var ids = new long[b * t];
        var mask = new long[b * t];
        Array.Fill(ids, padId);
        for (int r = 0; r < b; r++)
            for (int c = 0; c < group[r].InputIds.Length; c++)
            {
                ids[r * t + c] = group[r].InputIds[c];
                mask[r * t + c] = 1;
            }
        return new TrainingBatch(tensor(ids, new long[] { b, t }), tensor(group.Select(e => (long)e.Label).ToArray()), tensor(mask, new long[] { b, t }));
    }
}
