using TorchSharp;

namespace PeftSharp.Data;

/// <summary>
/// Micro-batches for training. Unpacked: each row is one example, padded on the right to the longest in the batch.
/// Packed: examples in (shuffled) order are concatenated greedily into rows of exactly MaxSeqLength; an example
/// that does not fit in what is left of a row starts the next row (the rest is padding), one longer than a row is
/// truncated. The order is a seeded shuffle per epoch (System.Random(seed + epoch)), reproducible across runs.
/// </summary>
public sealed class Batcher
{
    const int GroupBatches = 50;
    readonly IReadOnlyList<TokenizedExample> examples;
    readonly int[] lengths;
    readonly BatcherOptions options;

    /// <summary>
    /// Plans batches over <paramref name="examples"/> (only their lengths are read here; tokens are read when a batch
    /// is built, so a disk-backed list stays on disk).
    /// </summary>
    /// <param name="examples">The tokenized examples, e.g. <see cref="DatasetBuildResult.Train"/>.</param>
    /// <param name="options">Batch size, packing, row length, shuffle seed and pad id.</param>
    /// <exception cref="ConfigurationException">The batch size or <see cref="BatcherOptions.MaxSeqLength"/> is below 1.</exception>
    public Batcher(IReadOnlyList<TokenizedExample> examples, BatcherOptions options)
    {
        if (options.BatchSize < 1) throw new ConfigurationException($"batch size must be at least 1, got {options.BatchSize}");
        if (options.MaxSeqLength < 1) throw new ConfigurationException($"max_seq_length must be at least 1, got {options.MaxSeqLength}");
        this.examples = examples;
        this.options = options;
        // Plans are made from lengths alone; tokens are read only when a batch is built (a disk-backed dataset stays on disk).
        lengths = new int[examples.Count];
        for (int i = 0; i < lengths.Length; i++) lengths[i] = Math.Min(examples[i].Length, options.MaxSeqLength);
    }

    /// <summary>Example indices in this epoch's order.</summary>
    public int[] Order(int epoch)
    {
        var order = Enumerable.Range(0, examples.Count).ToArray();
        if (options.Shuffle) new Random(options.Seed + epoch).Shuffle(order);
        return order;
    }

    /// <summary>The rows of an epoch (example indices), grouped into micro-batches.</summary>
    public List<List<RowPlan>> Plan(int epoch)
    {
        var order = Order(epoch);
        var rows = options.Packing ? Pack(order) : order.Select(Single).ToList();
        if (!options.Packing && options.GroupByLength) return GroupByLength(rows, new Random(options.Seed + epoch + 1_000_003));
        return rows.Chunk(options.BatchSize).Select(c => c.ToList()).ToList();
    }

    /// <summary>
    /// Number of micro-batches in one epoch (the same for every epoch; computed by planning epoch 0). Used for the step
    /// count of learning-rate schedules.
    /// </summary>
    public int BatchesPerEpoch => Plan(0).Count;

    /// <summary>The epoch's batches, built lazily; dispose each one after use.</summary>
    public IEnumerable<Batch> Epoch(int epoch) => Epoch(epoch, _ => true).Select(b => b.Batch);

    /// <summary>The epoch's batches whose index <paramref name="include"/> accepts, with their index; the others are never built.</summary>
    public IEnumerable<(int Index, Batch Batch)> Epoch(int epoch, Func<int, bool> include)
    {
        var plan = Plan(epoch);
        for (int i = 0; i < plan.Count; i++)
            if (include(i)) yield return (i, ToBatch(plan[i].Select(Materialize).ToList()));
    }

    /// <summary>The tokens of a planned row.</summary>
    public Row Materialize(RowPlan plan)
    {
        var row = new Row();
        foreach (int i in plan.Indices) row.Add(examples[i], options.MaxSeqLength);
        return row;
    }

    RowPlan Single(int index) => new(new List<int> { index }, lengths[index]);

    List<RowPlan> Pack(int[] order)
    {
        var rows = new List<RowPlan>();
        var current = new List<int>();
        int length = 0;
        foreach (int i in order)
        {
            int n = lengths[i];
            if (length > 0 && length + n > options.MaxSeqLength)
            {
                rows.Add(new RowPlan(current, length));
                current = new List<int>();
                length = 0;
            }
            current.Add(i);
            length += n;
        }
        if (length > 0) rows.Add(new RowPlan(current, length));
        return rows;
    }

    // HF's LengthGroupedSampler idea: sort runs of ~50 batches by length so a batch pads little, then shuffle the batches.
    List<List<RowPlan>> GroupByLength(List<RowPlan> rows, Random rng)
    {
        var batches = new List<List<RowPlan>>();
        foreach (var mega in rows.Chunk(options.BatchSize * GroupBatches))
            batches.AddRange(mega.OrderByDescending(r => r.Length).Chunk(options.BatchSize).Select(c => c.ToList()));
        if (options.Shuffle) rng.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(batches));
        return batches;
    }

    Batch ToBatch(List<Row> rows)
    {
        int b = rows.Count;
        int t = options.Packing ? options.MaxSeqLength : rows.Max(r => r.Length);
        var ids = new long[b * t];
        var labels = new long[b * t];
        var mask = new long[b * t];
        var pos = new long[b * t];
        var seq = new long[b * t];
        long tokens = 0, trainable = 0;
        for (int r = 0; r < b; r++)
        {
            var row = rows[r];
            for (int j = 0; j < t; j++)
            {
                int k = r * t + j;
                if (j < row.Length)
                {
                    ids[k] = row.InputIds[j];
                    labels[k] = row.Labels[j];
                    mask[k] = 1;
                    pos[k] = row.PositionIds[j];
                    seq[k] = row.SequenceIds[j];
                    tokens++;
                    if (row.Labels[j] != TokenizedExample.IgnoreIndex) trainable++;
                }
                else
                {
                    ids[k] = options.PadId;
                    labels[k] = TokenizedExample.IgnoreIndex;
                    pos[k] = 0;
                    seq[k] = -1;
                }
            }
        }
        long[] shape = [b, t];
        return new Batch(torch.tensor(ids, shape), torch.tensor(labels, shape), torch.tensor(mask, shape),
            torch.tensor(pos, shape), torch.tensor(seq, shape), tokens, trainable);
    }
}
