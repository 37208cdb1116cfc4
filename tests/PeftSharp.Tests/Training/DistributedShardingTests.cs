using PeftSharp.Data;
using PeftSharp.Training;
using PeftSharp.Training.Distributed;

namespace PeftSharp.Tests.Training;

/// <summary>The data order of data-parallel runs (no MPI needed): which rank computes which micro-batch of which step.</summary>
public class DistributedShardingTests
{
    [Fact]
    public void Two_ranks_split_each_step_round_robin_and_the_epoch_end_makes_a_smaller_step()
    {
        var rank0 = DataSharding.Steps(10, 0, accumulation: 2, rank: 0, ranks: 2).ToList();
        var rank1 = DataSharding.Steps(10, 0, accumulation: 2, rank: 1, ranks: 2).ToList();
        Assert.Equal(new[] { new[] { 0, 2 }, new[] { 4, 6 }, new[] { 8 } }, rank0.Select(s => s.LocalIndices.ToArray()));
        Assert.Equal(new[] { new[] { 1, 3 }, new[] { 5, 7 }, new[] { 9 } }, rank1.Select(s => s.LocalIndices.ToArray()));
        Assert.Equal(new[] { 4, 4, 2 }, rank0.Select(s => s.GlobalMicroBatches));
        Assert.Equal(new[] { 4, 8, 10 }, rank1.Select(s => s.ConsumedAfter));
    }

    [Theory]
    [InlineData(17, 0, 1, 2)]
    [InlineData(17, 3, 2, 2)]
    [InlineData(23, 5, 3, 4)]
    [InlineData(5, 0, 4, 3)]      // fewer micro-batches than one step: some ranks get none
    [InlineData(9, 9, 1, 2)]      // resumed at the epoch's end: nothing left
    public void Every_rank_count_computes_the_micro_batches_one_process_computes_with_accumulation_times_ranks(int batches, int skip, int accumulation, int ranks)
    {
        var single = DataSharding.Steps(batches, skip, accumulation * ranks, rank: 0, ranks: 1).ToList();
        var perRank = Enumerable.Range(0, ranks).Select(r => DataSharding.Steps(batches, skip, accumulation, r, ranks).ToList()).ToList();
        Assert.All(perRank, steps => Assert.Equal(single.Count, steps.Count));   // every rank takes part in every step
        for (int s = 0; s < single.Count; s++)
        {
            var union = perRank.SelectMany(steps => steps[s].LocalIndices).Order().ToArray();
            Assert.Equal(single[s].LocalIndices, union);
            Assert.All(perRank, steps => Assert.Equal(single[s].ConsumedAfter, steps[s].ConsumedAfter));
            Assert.All(perRank, steps => Assert.Equal(single[s].GlobalMicroBatches, steps[s].GlobalMicroBatches));
        }
    }

    [Fact]
    public void A_rank_outside_the_job_is_refused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => DataSharding.Steps(4, 0, 1, rank: 2, ranks: 2).ToList());

    static DataBatchSource Source(int examples, int batchSize)
    {
        var rng = new Random(5);
        var list = Enumerable.Range(0, examples).Select(_ =>
        {
            var ids = Enumerable.Range(0, rng.Next(3, 12)).Select(_ => rng.Next(1, 50)).ToArray();
            return new TokenizedExample(ids, ids);
        }).ToList();
        return new DataBatchSource(list, new BatcherOptions { BatchSize = batchSize, MaxSeqLength = 16, Packing = true, Seed = 9 });
    }

    [Fact]
    public void A_ranks_shard_holds_exactly_its_micro_batches_of_the_single_process_order()
    {
        var source = Source(40, batchSize: 2);
        var all = source.Epoch(1).Select(b => { using (b) return b.InputIds.data<long>().ToArray(); }).ToList();
        Assert.True(all.Count >= 6);
        var groups = DataSharding.Groups(source, epoch: 1, skip: 1, accumulation: 2, rank: 1, ranks: 2).ToList();
        var expected = DataSharding.Steps(all.Count, 1, 2, 1, 2).ToList();
        Assert.Equal(expected.Count, groups.Count);
        for (int s = 0; s < groups.Count; s++)
        {
            Assert.Equal(expected[s].LocalIndices, groups[s].Shard.LocalIndices);
            for (int k = 0; k < groups[s].Batches.Count; k++)
                using (var b = groups[s].Batches[k])
                    Assert.Equal(all[expected[s].LocalIndices[k]], b.InputIds.data<long>().ToArray());
        }
    }

    [Fact]
    public void The_launcher_is_read_from_the_environment_and_absent_without_one()
    {
        Assert.Null(MpiLaunch.Detect(_ => null));
        var ompi = new Dictionary<string, string> { ["OMPI_COMM_WORLD_SIZE"] = "4", ["OMPI_COMM_WORLD_RANK"] = "3", ["OMPI_COMM_WORLD_LOCAL_SIZE"] = "2" };
        Assert.Equal(new MpiLaunch(3, 4, 2), MpiLaunch.Detect(ompi.GetValueOrDefault));
        var pmix = new Dictionary<string, string> { ["PMIX_RANK"] = "1" };
        Assert.Equal(new MpiLaunch(1, 1, 1), MpiLaunch.Detect(pmix.GetValueOrDefault));
    }
}
