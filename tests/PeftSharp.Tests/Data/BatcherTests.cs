using PeftSharp.Data;

namespace PeftSharp.Tests.Data;

public class BatcherTests
{
    // Example k has ids k*100 + j, so every token is unique; the first two tokens are prompt (-100).
    static List<TokenizedExample> Examples(params int[] lengths) =>
        [.. lengths.Select((n, k) =>
        {
            var ids = Enumerable.Range(0, n).Select(j => k * 100 + j + 1).ToArray();
            return new TokenizedExample(ids, ids.Select((id, j) => j < 2 ? -100 : id).ToArray());
        })];

    static long[,] Mat(Tensor t)
    {
        var d = t.data<long>().ToArray();
        int b = (int)t.shape[0], w = (int)t.shape[1];
        var m = new long[b, w];
        for (int i = 0; i < b; i++) for (int j = 0; j < w; j++) m[i, j] = d[i * w + j];
        return m;
    }

    [Fact]
    public void Packing_fills_rows_restarts_positions_and_never_trains_across_a_boundary()
    {
        var examples = Examples(3, 5, 2, 7, 4, 6, 1, 12);
        var batcher = new Batcher(examples, new BatcherOptions { BatchSize = 2, MaxSeqLength = 8, Packing = true, Seed = 7, PadId = 0 });
        var seen = new List<long>();
        foreach (var batch in batcher.Epoch(0))
        {
            using (batch)
            {
                Assert.Equal(8, batch.InputIds.shape[1]);
                var ids = Mat(batch.InputIds); var labels = Mat(batch.Labels); var mask = Mat(batch.AttentionMask);
                var pos = Mat(batch.PositionIds); var seq = Mat(batch.SequenceIds);
                for (int r = 0; r < ids.GetLength(0); r++)
                {
                    for (int t = 0; t < 8; t++)
                    {
                        if (mask[r, t] == 0)
                        {
                            Assert.Equal(-1, seq[r, t]); Assert.Equal(-100, labels[r, t]); Assert.Equal(0, ids[r, t]);
                            continue;
                        }
                        seen.Add(ids[r, t]);
                        bool start = t == 0 || seq[r, t] != seq[r, t - 1];
                        Assert.Equal(start ? 0 : pos[r, t - 1] + 1, pos[r, t]);
                        Assert.Equal(t == 0 ? 0 : start ? seq[r, t - 1] + 1 : seq[r, t - 1], seq[r, t]);
                        // Position in its example matches the id pattern k*100 + j + 1.
                        Assert.Equal(pos[r, t] + 1, ids[r, t] % 100);
                        if (start && t > 0) Assert.Equal(-100, labels[r, t]);
                        // The shifted target of token t is label t+1: it must belong to the same example.
                        if (t + 1 < 8 && labels[r, t + 1] != -100) Assert.Equal(seq[r, t], seq[r, t + 1]);
                    }
                    Assert.True(mask[r, 0] == 1);
                }
                Assert.Equal(batch.Tokens, batch.AttentionMask.sum().item<long>());
            }
        }
        // Every token of every example appears exactly once; the 12-token example is cut to the row length.
        var expected = examples.SelectMany(e => e.InputIds.Take(8)).Select(i => (long)i).Order();
        Assert.Equal(expected, seen.Order());
    }

    [Fact]
    public void Unpacked_batches_pad_to_the_longest_with_masked_labels()
    {
        var batcher = new Batcher(Examples(3, 5, 2), new BatcherOptions { BatchSize = 3, MaxSeqLength = 64, Shuffle = false, PadId = 9 });
        using var batch = Assert.Single(batcher.Epoch(0));
        Assert.Equal(new long[] { 3, 5 }, batch.InputIds.shape);
        var ids = Mat(batch.InputIds); var labels = Mat(batch.Labels); var mask = Mat(batch.AttentionMask); var seq = Mat(batch.SequenceIds);
        Assert.Equal(10, batch.Tokens);
        Assert.Equal(1 + 3 + 0, batch.TrainableTokens);
        Assert.Equal(9, ids[2, 2]); Assert.Equal(-100, labels[2, 2]); Assert.Equal(0, mask[2, 2]); Assert.Equal(-1, seq[2, 2]);
        Assert.Equal(0, seq[2, 1]);
        Assert.Equal(Enumerable.Range(0, 5).Select(i => (long)i), Enumerable.Range(0, 5).Select(i => Mat(batch.PositionIds)[1, i]));
    }

    [Fact]
    public void Group_by_length_pads_less_and_keeps_every_example()
    {
        var rng = new Random(3);
        var examples = Examples([.. Enumerable.Range(0, 400).Select(_ => rng.Next(3, 90))]);
        long Padding(bool group)
        {
            var b = new Batcher(examples, new BatcherOptions { BatchSize = 8, MaxSeqLength = 128, GroupByLength = group, Seed = 1 });
            var plan = b.Plan(0);
            Assert.Equal(400, plan.Sum(rows => rows.Count));
            Assert.Equal(examples.Select(e => e.InputIds[0]).Order(), plan.SelectMany(rows => rows.Select(r => examples[r.Indices[0]].InputIds[0])).Order());
            return plan.Sum(rows => (long)rows.Count * rows.Max(r => r.Length) - rows.Sum(r => r.Length));
        }
        long grouped = Padding(true), plain = Padding(false);
        Assert.True(grouped * 4 < plain, $"grouped padding {grouped} vs plain {plain}");
    }

    [Fact]
    public void Seeded_shuffle_is_reproducible_and_changes_per_epoch()
    {
        var examples = Examples([.. Enumerable.Repeat(4, 50)]);
        var a = new Batcher(examples, new BatcherOptions { Seed = 5 });
        var b = new Batcher(examples, new BatcherOptions { Seed = 5 });
        Assert.Equal(a.Order(0), b.Order(0));
        Assert.Equal(a.Order(3), b.Order(3));
        Assert.NotEqual(a.Order(0), a.Order(1));
        Assert.NotEqual(a.Order(0), new Batcher(examples, new BatcherOptions { Seed = 6 }).Order(0));
        Assert.Equal(Enumerable.Range(0, 50), a.Order(1).Order());
    }
}
