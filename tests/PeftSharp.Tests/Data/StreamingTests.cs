using PeftSharp.Data;
using PeftSharp.Tests.Support;
using PeftSharp.Tokenization;

namespace PeftSharp.Tests.Data;

[Collection(GlobalRngCollection.Name)] // measures the process-wide managed heap: nothing may allocate beside it
public class StreamingTests
{
    [Fact]
    public void A_disk_backed_dataset_gives_the_same_examples_and_batches_as_the_in_memory_one()
    {
        var tok = TokenizerLoader.FromFile(Fixtures.Require("models", "stories260K", "tok512.bin"));
        var data = Fixtures.Require("data", "alpaca_seed_tasks.jsonl");
        var config = new DatasetConfig { Path = data, Format = "alpaca", ChatTemplate = "alpaca", MaxSeqLength = 128, EvalSplit = 0.1 };
        var memory = DatasetBuilder.Build(config, tok);
        var disk = DatasetBuilder.Build(config with { Streaming = true }, tok);
        Assert.IsNotType<List<TokenizedExample>>(disk.Train);
        Assert.Equal(memory.Train.Count, disk.Train.Count);
        Assert.Equal(memory.Eval.Count, disk.Eval.Count);
        for (int i = 0; i < memory.Train.Count; i++)
        {
            Assert.Equal(memory.Train[i].InputIds, disk.Train[i].InputIds);
            Assert.Equal(memory.Train[i].Labels, disk.Train[i].Labels);
        }
        foreach (var packing in new[] { false, true })
        {
            var options = new BatcherOptions { BatchSize = 4, MaxSeqLength = 128, Packing = packing, Seed = 3 };
            var a = new Batcher(memory.Train, options).Epoch(1).ToList();
            var b = new Batcher(disk.Train, options).Epoch(1).ToList();
            Assert.Equal(a.Count, b.Count);
            for (int i = 0; i < a.Count; i++)
            {
                Assert.Equal(a[i].InputIds.data<long>().ToArray(), b[i].InputIds.data<long>().ToArray());
                Assert.Equal(a[i].Labels.data<long>().ToArray(), b[i].Labels.data<long>().ToArray());
            }
        }
    }

    [Fact]
    public void The_token_store_keeps_tokens_in_its_file_not_on_the_heap()
    {
        using var store = new DiskTokenStore();
        var rng = new Random(1);
        long before = GC.GetTotalMemory(true);
        for (int i = 0; i < 50_000; i++)
        {
            var ids = Enumerable.Range(0, 256).Select(_ => rng.Next(512)).ToArray();
            store.Add(new TokenizedExample(ids, ids));
        }
        store.Seal();
        long after = GC.GetTotalMemory(true);
        // 50k examples x 256 tokens x 2 arrays x 4 bytes = 102 MB of tokens; the store keeps an index entry per example
        // and a 1 MB write buffer. The bound leaves room for what the test runner allocates meanwhile (CI once saw 4 MB)
        // and still fails by a wide margin if the tokens stayed on the heap.
        Assert.True(after - before < 16_000_000, $"heap grew by {after - before} bytes");
        Assert.Equal(256, store[49_999].Length);
        Assert.Equal(store[5].InputIds, store[5].Labels);
    }
}
