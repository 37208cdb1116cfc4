using System.Diagnostics;

namespace PeftSharp.Training.Distributed;

/// <summary>
/// Turns a hang into a failure: every collective runs under a deadline (ddp_timeout, as HF TrainingArguments); when
/// one has not returned by then, another rank has crashed, been killed or is stuck, so this rank prints which
/// collective at which step it waited for and ends the whole job with MPI_Abort. Off the hot path: arming is a
/// field write and a pulse; one background thread sleeps until the deadline.
/// </summary>
public sealed class CollectiveWatchdog : IDisposable
{
    readonly ICollectives collectives;
    readonly TimeSpan timeout;
    readonly TextWriter errors;
    readonly object gate = new();
    readonly Thread thread;
    string? waitingFor;
    long deadline; // Stopwatch ticks
    bool disposed;

    /// <summary>Starts the watchdog thread (a background thread: it never keeps the process alive).</summary>
    /// <param name="collectives">The job to abort.</param>
    /// <param name="timeout">How long one collective may take.</param>
    /// <param name="errors">Where the message goes; default stderr.</param>
    public CollectiveWatchdog(ICollectives collectives, TimeSpan timeout, TextWriter? errors = null)
    {
        this.collectives = collectives;
        this.timeout = timeout;
        this.errors = errors ?? Console.Error;
        thread = new Thread(Watch) { IsBackground = true, Name = "peftsharp collective watchdog" };
        thread.Start();
    }

    /// <summary>Arms the deadline for one collective; dispose the result when it returned.</summary>
    /// <param name="what">The collective, e.g. "the all-reduce of the gradients".</param>
    /// <param name="step">The optimizer step it belongs to (1-based; 0 before training).</param>
    public Guard Arm(string what, int step)
    {
        lock (gate)
        {
            waitingFor = $"{what} at step {step}";
            deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
            Monitor.Pulse(gate);
        }
        return new Guard(this);
    }

    /// <summary>Disarms the deadline when disposed.</summary>
    public readonly struct Guard(CollectiveWatchdog owner) : IDisposable
    {
        /// <summary>The collective returned: no deadline until the next one is armed.</summary>
        public void Dispose()
        {
            lock (owner.gate) owner.waitingFor = null;
        }
    }

    void Watch()
    {
        lock (gate)
        {
            while (!disposed)
            {
                if (waitingFor is null)
                {
                    Monitor.Wait(gate);
                    continue;
                }
                long left = deadline - Stopwatch.GetTimestamp();
                if (left > 0)
                {
                    Monitor.Wait(gate, TimeSpan.FromSeconds((double)left / Stopwatch.Frequency) + TimeSpan.FromMilliseconds(1));
                    continue;
                }
                Fire(waitingFor);
                return;
            }
        }
    }

    void Fire(string what)
    {
        errors.WriteLine($"error: rank {collectives.Rank} of {collectives.Size}: {what} did not complete within ddp_timeout ({timeout.TotalSeconds:0} s): " +
            "another rank has crashed, been killed or is stuck; aborting the job (raise ddp_timeout when a step, an evaluation or a checkpoint legitimately takes longer)");
        errors.Flush();
        collectives.Abort(1);
    }

    /// <summary>Stops the watchdog thread.</summary>
    public void Dispose()
    {
        lock (gate)
        {
            disposed = true;
            Monitor.Pulse(gate);
        }
    }
}
