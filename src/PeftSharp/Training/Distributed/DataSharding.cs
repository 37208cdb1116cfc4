namespace PeftSharp.Training.Distributed;

/// <summary>One optimizer step's share of the epoch for one rank.</summary>
/// <param name="LocalIndices">The epoch's micro-batch indices this rank computes, ascending (may be empty at an epoch's end).</param>
/// <param name="GlobalMicroBatches">Micro-batches in the step over all ranks.</param>
/// <param name="ConsumedAfter">Micro-batches of the epoch consumed once the step is done (saved as batch_in_epoch).</param>
public sealed record StepShard(IReadOnlyList<int> LocalIndices, int GlobalMicroBatches, int ConsumedAfter);

/// <summary>
/// The data order of a run with any number of ranks. The epoch's micro-batches are the ones a single process would
/// see, in the same order (the batch source's seeded shuffle, independent of the rank count). A step consumes the
/// next accumulation x ranks of them (fewer at the epoch's end), and within the step rank r computes the ones at
/// positions r, r + ranks, r + 2 ranks, .... So R ranks with gradient accumulation G compute exactly the
/// micro-batches one process computes with accumulation G x R, and the summed gradient differs only by float
/// round-off. The position saved in a checkpoint is a micro-batch index of that single-process order, so a run
/// resumes with any rank count.
/// </summary>
public static class DataSharding
{
    /// <summary>The steps of one epoch from micro-batch <paramref name="skip"/> on, with this rank's share of each.</summary>
    /// <param name="batchesPerEpoch">Micro-batches in the epoch.</param>
    /// <param name="skip">Micro-batches already consumed (a resumed run's batch_in_epoch).</param>
    /// <param name="accumulation">gradient_accumulation_steps (micro-batches per rank per step).</param>
    /// <param name="rank">This rank.</param>
    /// <param name="ranks">Ranks in the job.</param>
    /// <exception cref="ArgumentOutOfRangeException">A count is not positive or the rank is outside [0, ranks).</exception>
    public static IEnumerable<StepShard> Steps(int batchesPerEpoch, int skip, int accumulation, int rank, int ranks)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(accumulation, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(ranks, 1);
        if (rank < 0 || rank >= ranks) throw new ArgumentOutOfRangeException(nameof(rank), $"rank {rank} is outside [0, {ranks})");
        int perStep = accumulation * ranks;
        for (int start = Math.Max(0, skip); start < batchesPerEpoch; start += perStep)
        {
            int end = Math.Min(batchesPerEpoch, start + perStep);
            var local = new List<int>();
            for (int i = start + rank; i < end; i += ranks) local.Add(i);
            yield return new StepShard(local, end - start, end);
        }
    }

    /// <summary>
    /// The steps of <see cref="Steps"/> with this rank's micro-batches built from <paramref name="source"/> (the
    /// others are never built). The caller disposes the batches.
    /// </summary>
    public static IEnumerable<(List<TrainingBatch> Batches, StepShard Shard)> Groups(IBatchSource source, int epoch, int skip, int accumulation, int rank, int ranks)
    {
        var mine = source.Epoch(epoch, i => i >= skip && (i - skip) % ranks == rank).GetEnumerator();
        try
        {
            foreach (var shard in Steps(source.BatchesPerEpoch, skip, accumulation, rank, ranks))
            {
                var batches = new List<TrainingBatch>(shard.LocalIndices.Count);
                foreach (int index in shard.LocalIndices)
                {
                    if (!mine.MoveNext() || mine.Current.Index != index)
                        throw new InvalidOperationException($"the batch source skipped micro-batch {index} of epoch {epoch}: it must yield BatchesPerEpoch batches");
                    batches.Add(mine.Current.Batch);
                }
                yield return (batches, shard);
            }
        }
        finally
        {
            mine.Dispose();
        }
    }
}
