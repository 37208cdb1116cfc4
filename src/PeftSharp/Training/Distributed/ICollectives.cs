namespace PeftSharp.Training.Distributed;

/// <summary>
/// The collective operations data-parallel training needs, over every process of the job. Every rank must make the
/// same calls in the same order with buffers of the same length; a call returns when all ranks have made it.
/// </summary>
public interface ICollectives
{
    /// <summary>This process's rank, 0-based; rank 0 writes the run's files.</summary>
    int Rank { get; }
    /// <summary>Processes in the job.</summary>
    int Size { get; }
    /// <summary>Replaces every element with its sum over all ranks (MPI_Allreduce, MPI_FLOAT, MPI_SUM, in place).</summary>
    void AllReduceSum(Span<float> values);
    /// <summary>Replaces every element with its sum over all ranks (MPI_DOUBLE).</summary>
    void AllReduceSum(Span<double> values);
    /// <summary>Replaces every element with its sum over all ranks (MPI_INT64_T).</summary>
    void AllReduceSum(Span<long> values);
    /// <summary>Copies rank <paramref name="root"/>'s values to every rank (MPI_Bcast, MPI_FLOAT).</summary>
    void Broadcast(Span<float> values, int root);
    /// <summary>Copies rank <paramref name="root"/>'s values to every rank as 16-bit patterns (bfloat16 as MPI_UINT16_T).</summary>
    void Broadcast(Span<ushort> values, int root);
    /// <summary>Returns when every rank has called it (MPI_Barrier).</summary>
    void Barrier();
    /// <summary>Ends every process of the job with <paramref name="exitCode"/> (MPI_Abort); does not return.</summary>
    void Abort(int exitCode);
}

/// <summary>A job of one process: every collective is the identity. Runs without a launcher use it.</summary>
public sealed class SingleProcess : ICollectives
{
    /// <summary>The one instance.</summary>
    public static readonly SingleProcess Instance = new();
    SingleProcess() { }
    /// <inheritdoc/>
    public int Rank => 0;
    /// <inheritdoc/>
    public int Size => 1;
    /// <inheritdoc/>
    public void AllReduceSum(Span<float> values) { }
    /// <inheritdoc/>
    public void AllReduceSum(Span<double> values) { }
    /// <inheritdoc/>
    public void AllReduceSum(Span<long> values) { }
    /// <inheritdoc/>
    public void Broadcast(Span<float> values, int root) { }
    /// <inheritdoc/>
    public void Broadcast(Span<ushort> values, int root) { }
    /// <inheritdoc/>
    public void Barrier() { }
    /// <inheritdoc/>
    public void Abort(int exitCode) => Environment.Exit(exitCode);
}
