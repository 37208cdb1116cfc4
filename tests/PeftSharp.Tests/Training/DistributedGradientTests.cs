using PeftSharp.Training.Distributed;
using TorchSharp.Modules;

namespace PeftSharp.Tests.Training;

/// <summary>The gradient all-reduce and the watchdog against an in-process stand-in for a second rank (no MPI needed).</summary>
public class DistributedGradientTests
{
    /// <summary>Rank 0 of 2 where the other rank always holds the same values: a sum doubles them; Abort is recorded.</summary>
    sealed class MirroredRanks : ICollectives
    {
        public readonly ManualResetEventSlim Aborted = new();
        public long FloatsReduced;
        public int Rank => 0;
        public int Size => 2;
        public void AllReduceSum(Span<float> values)
        {
            FloatsReduced += values.Length;
            foreach (ref var v in values) v *= 2;
        }
        public void AllReduceSum(Span<double> values)
        {
            foreach (ref var v in values) v *= 2;
        }
        public void AllReduceSum(Span<long> values)
        {
            foreach (ref var v in values) v *= 2;
        }
        public void Broadcast(Span<float> values, int root) { }
        public void Broadcast(Span<ushort> values, int root) { }
        public void Barrier() { }
        public void Abort(int exitCode) => Aborted.Set();
    }

    static Parameter Param(params long[] shape) => new(randn(shape));

    [Fact]
    public void Gradients_loss_and_token_counts_are_summed_over_ranks_in_one_buffer_of_the_trainable_bytes()
    {
        var ranks = new MirroredRanks();
        var a = Param(3, 4);
        var b = Param(5);
        var unused = Param(7);
        (a.sum() * 3 + (b * b).sum()).backward();
        var gradA = a.grad!.clone();
        var gradB = b.grad!.clone();
        using var dp = new DataParallel(ranks, [a, b, unused], TimeSpan.FromMinutes(1));
        Assert.Equal((12 + 5 + 7) * sizeof(float), dp.GradientBytesPerStep);

        Assert.Equal((20L, 60L), dp.SumCounts(1, 10, 30));
        double loss = 1.25;
        Assert.True(dp.ReduceGradients(1, ref loss, finite: true));
        Assert.Equal(2.5, loss);
        Assert.Equal(12 + 5 + 7, ranks.FloatsReduced);          // one flattened buffer per step
        Assert.True(a.grad!.allclose(gradA * 2));
        Assert.True(b.grad!.allclose(gradB * 2));
        Assert.Null(unused.grad);                               // no rank produced one: it stays without a gradient
    }

    [Fact]
    public void A_non_finite_loss_on_one_rank_makes_every_rank_skip_the_step_before_the_gradients_travel()
    {
        var ranks = new MirroredRanks();
        var a = Param(4);
        a.sum().backward();
        using var dp = new DataParallel(ranks, [a], TimeSpan.FromMinutes(1));
        double loss = double.NaN;
        Assert.False(dp.ReduceGradients(1, ref loss, finite: false));
        Assert.Equal(0, ranks.FloatsReduced);
    }

    [Fact]
    public void One_process_needs_no_buffer_and_changes_nothing()
    {
        var a = Param(4);
        a.sum().backward();
        using var dp = new DataParallel(SingleProcess.Instance, [a], TimeSpan.FromMinutes(1));
        double loss = 3;
        Assert.True(dp.ReduceGradients(1, ref loss, finite: true));
        Assert.Equal(3, loss);
        Assert.Equal(0, dp.GradientBytesPerStep);
        Assert.True(a.grad!.allclose(ones(4)));
    }

    [Fact]
    public void A_collective_that_does_not_return_in_time_aborts_the_job_with_the_rank_and_step()
    {
        var ranks = new MirroredRanks();
        var errors = new StringWriter();
        using var watchdog = new CollectiveWatchdog(ranks, TimeSpan.FromMilliseconds(200), errors);
        using (watchdog.Arm("the all-reduce of the gradients", 7))
            Assert.True(ranks.Aborted.Wait(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken));
        Assert.Contains("rank 0 of 2: the all-reduce of the gradients at step 7 did not complete within ddp_timeout", errors.ToString());
    }

    [Fact]
    public void Collectives_that_return_in_time_never_abort()
    {
        var ranks = new MirroredRanks();
        using var watchdog = new CollectiveWatchdog(ranks, TimeSpan.FromMilliseconds(300), TextWriter.Null);
        for (int step = 1; step <= 5; step++)
            using (watchdog.Arm("the all-reduce of the gradients", step))
                Thread.Sleep(50);
        Assert.False(ranks.Aborted.Wait(TimeSpan.FromMilliseconds(600), TestContext.Current.CancellationToken));
    }
}
