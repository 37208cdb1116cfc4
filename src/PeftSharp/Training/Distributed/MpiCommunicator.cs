namespace PeftSharp.Training.Distributed;

/// <summary>
/// MPI_COMM_WORLD of an Open MPI job: initialised on construction (MPI_Init_thread, asking for
/// MPI_THREAD_MULTIPLE so the watchdog can abort from its own thread), finalised on dispose. One per process.
/// </summary>
public sealed unsafe class MpiCommunicator : ICollectives, IDisposable
{
    // MPI's count argument is an int: longer buffers travel in pieces of this many elements.
    const int MaxCount = 1 << 30;
    readonly MpiLibrary mpi;
    bool finalized;

    /// <inheritdoc/>
    public int Rank { get; }
    /// <inheritdoc/>
    public int Size { get; }
    /// <summary>True when MPI granted MPI_THREAD_MULTIPLE (else an abort from the watchdog falls back to killing this process).</summary>
    public bool ThreadMultiple { get; }

    MpiCommunicator(MpiLibrary mpi)
    {
        this.mpi = mpi;
        int provided = 0, rank = 0, size = 0, initialized = 0;
        mpi.Check(mpi.Initialized(&initialized), "MPI_Initialized");
        if (initialized == 0) mpi.Check(mpi.Init_thread(null, null, MpiLibrary.ThreadMultiple, &provided), "MPI_Init_thread");
        ThreadMultiple = provided >= MpiLibrary.ThreadMultiple;
        mpi.Check(mpi.Comm_rank(mpi.CommWorld, &rank), "MPI_Comm_rank");
        mpi.Check(mpi.Comm_size(mpi.CommWorld, &size), "MPI_Comm_size");
        Rank = rank;
        Size = size;
    }

    /// <summary>
    /// Joins the MPI job this process was launched into, or returns null when no launcher started it (then nothing
    /// MPI-related is loaded).
    /// </summary>
    /// <exception cref="PeftSharpException">A launcher started the process but Open MPI's library is missing.</exception>
    public static MpiCommunicator? FromEnvironment() => MpiLaunch.Detect() is null ? null : new MpiCommunicator(MpiLibrary.Load());

    /// <inheritdoc/>
    public void AllReduceSum(Span<float> values) => AllReduce(values, mpi.Float);
    /// <inheritdoc/>
    public void AllReduceSum(Span<double> values) => AllReduce(values, mpi.Double);
    /// <inheritdoc/>
    public void AllReduceSum(Span<long> values) => AllReduce(values, mpi.Int64);
    /// <inheritdoc/>
    public void Broadcast(Span<float> values, int root) => Bcast(values, mpi.Float, root);
    /// <inheritdoc/>
    public void Broadcast(Span<ushort> values, int root) => Bcast(values, mpi.UInt16, root);

    void AllReduce<T>(Span<T> values, IntPtr type) where T : unmanaged
    {
        fixed (T* p = values)
            for (int at = 0; at < values.Length; at += MaxCount)
                mpi.Check(mpi.Allreduce(MpiLibrary.InPlace, (IntPtr)(p + at), Math.Min(MaxCount, values.Length - at), type, mpi.Sum, mpi.CommWorld), "MPI_Allreduce");
    }

    void Bcast<T>(Span<T> values, IntPtr type, int root) where T : unmanaged
    {
        fixed (T* p = values)
            for (int at = 0; at < values.Length; at += MaxCount)
                mpi.Check(mpi.Bcast((IntPtr)(p + at), Math.Min(MaxCount, values.Length - at), type, root, mpi.CommWorld), "MPI_Bcast");
    }

    /// <summary>
    /// Runs this rank's work. An exception ends the whole job (MPI_Abort) after printing it with the rank: returning
    /// would leave the other ranks waiting in a collective with this one until ddp_timeout.
    /// </summary>
    /// <param name="work">The rank's work; returns the exit code.</param>
    /// <param name="errors">Where the error line goes (stderr).</param>
    public int RunOrAbort(Func<int> work, TextWriter errors)
    {
        try { return work(); }
        catch (Exception e) when (Size > 1)
        {
            errors.WriteLine($"error: rank {Rank} of {Size}: " + (e is PeftSharpException ? e.Message.ReplaceLineEndings(" ") : e.ToString()));
            errors.Flush();
            Abort(1);
            throw;
        }
    }

    /// <inheritdoc/>
    public void Barrier() => mpi.Check(mpi.Barrier(mpi.CommWorld), "MPI_Barrier");

    /// <inheritdoc/>
    public void Abort(int exitCode)
    {
        // Should MPI_Abort not end this process promptly, dying makes the launcher end the others.
        new Thread(() =>
        {
            Thread.Sleep(TimeSpan.FromSeconds(10));
            System.Diagnostics.Process.GetCurrentProcess().Kill();
        }) { IsBackground = true }.Start();
        mpi.Abort(mpi.CommWorld, exitCode);
        Environment.Exit(exitCode); // MPI_Abort does not return; this is for a library that does
    }

    /// <summary>MPI_Finalize (once); every rank calls it before exiting.</summary>
    public void Dispose()
    {
        if (finalized) return;
        finalized = true;
        int done = 0;
        mpi.Finalized(&done);
        if (done == 0) mpi.Check(mpi.Finalize(), "MPI_Finalize");
    }
}
