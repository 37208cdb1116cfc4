using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Training.Distributed;

/// <summary>
/// What the trainer does differently with several ranks, in one place: the token counts of a step summed over
/// ranks (so the loss is normalised by every predicted token of the global batch), the adapter gradients summed in
/// one flattened fp32 buffer per step (only trainable parameters travel), the starting weights broadcast from rank
/// 0, every collective under the <see cref="CollectiveWatchdog"/>, and the time spent in collectives. With one rank
/// every call returns its input and nothing is allocated.
/// </summary>
public sealed class DataParallel : IDisposable
{
    readonly ICollectives collectives;
    readonly IReadOnlyList<Parameter> parameters;
    readonly CollectiveWatchdog? watchdog;
    readonly Tensor? flat;
    readonly long[] offsets;
    readonly Stopwatch inCollectives = new();

    /// <summary>Prepares the gradient buffer and the watchdog (only with more than one rank).</summary>
    /// <param name="collectives">The job; <see cref="SingleProcess.Instance"/> for a single-process run.</param>
    /// <param name="trainable">The parameters the optimizer steps, in the same order on every rank.</param>
    /// <param name="timeout">ddp_timeout: how long one collective may wait for the other ranks.</param>
    public DataParallel(ICollectives collectives, IReadOnlyList<Parameter> trainable, TimeSpan timeout)
    {
        this.collectives = collectives;
        parameters = trainable;
        offsets = new long[trainable.Count + 1];
        for (int i = 0; i < trainable.Count; i++) offsets[i + 1] = offsets[i] + trainable[i].numel();
        if (collectives.Size == 1) return;
        watchdog = new CollectiveWatchdog(collectives, timeout);
        flat = zeros(offsets[^1], ScalarType.Float32);
    }

    /// <summary>This process's rank.</summary>
    public int Rank => collectives.Rank;
    /// <summary>Processes in the job.</summary>
    public int WorldSize => collectives.Size;
    /// <summary>Rank 0, the one that writes checkpoints, metrics, the final adapter and the console log.</summary>
    public bool IsMain => collectives.Rank == 0;
    /// <summary>Bytes of the gradient all-reduce per step: the trainable parameters as fp32 (0 with one rank).</summary>
    public long GradientBytesPerStep => flat is null ? 0 : offsets[^1] * sizeof(float);
    /// <summary>Wall time spent inside collectives (waiting for the slowest rank included).</summary>
    public TimeSpan CollectiveTime => inCollectives.Elapsed;

    /// <summary>Rank 0's values of every trainable parameter copied to all ranks, so every rank starts from the same weights.</summary>
    public void BroadcastParameters()
    {
        if (watchdog is null) return;
        using var guard = Timed("the broadcast of the starting weights", 0);
        foreach (var p in parameters)
        {
            if (p.dtype == ScalarType.Float32) collectives.Broadcast(MemoryMarshal.Cast<byte, float>(p.bytes), 0);
            else if (p.dtype == ScalarType.BFloat16) collectives.Broadcast(MemoryMarshal.Cast<byte, ushort>(p.bytes), 0);
            else throw new PeftSharpException($"data-parallel training supports float32 and bfloat16 trainable parameters, found {p.dtype}: set dtype to bfloat16 or float32");
        }
    }

    /// <summary>The step's predicted tokens and input tokens summed over all ranks.</summary>
    /// <param name="step">The 1-based step (for the watchdog's message).</param>
    /// <param name="predicted">This rank's predicted (loss) tokens.</param>
    /// <param name="tokens">This rank's input tokens.</param>
    public (long Predicted, long Tokens) SumCounts(int step, long predicted, long tokens)
    {
        if (watchdog is null) return (predicted, tokens);
        Span<long> counts = [predicted, tokens];
        using (Timed("the all-reduce of the token counts", step)) collectives.AllReduceSum(counts);
        return (counts[0], counts[1]);
    }

    /// <summary>
    /// After every local backward pass: sums the loss and the gradients over all ranks. A non-finite loss on any rank
    /// makes every rank skip the step (false), so they stay in step with each other. A parameter gets a gradient when
    /// any rank produced one, as it would with one rank over the whole batch.
    /// </summary>
    /// <param name="step">The 1-based step (for the watchdog's message).</param>
    /// <param name="lossSum">This rank's summed loss; on return the global sum.</param>
    /// <param name="finite">Whether this rank's losses were finite.</param>
    /// <returns>True when every rank's loss was finite and the gradients were summed.</returns>
    public bool ReduceGradients(int step, ref double lossSum, bool finite)
    {
        if (watchdog is null || flat is null) return finite;
        // [loss, non-finite ranks, then per parameter: ranks with a gradient]
        var control = new double[2 + parameters.Count];
        control[0] = finite ? lossSum : 0;
        control[1] = finite ? 0 : 1;
        for (int i = 0; i < parameters.Count; i++) control[2 + i] = parameters[i].grad is null ? 0 : 1;
        using (Timed("the all-reduce of the loss", step)) collectives.AllReduceSum(control);
        if (control[1] > 0) return false;
        lossSum = control[0];
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        for (int i = 0; i < parameters.Count; i++)
        {
            var slice = flat.narrow(0, offsets[i], offsets[i + 1] - offsets[i]);
            if (parameters[i].grad is { } g) slice.copy_(g.reshape(-1));
            else slice.zero_();
        }
        using (Timed("the all-reduce of the gradients", step)) collectives.AllReduceSum(MemoryMarshal.Cast<byte, float>(flat.bytes));
        for (int i = 0; i < parameters.Count; i++)
        {
            if (control[2 + i] == 0) continue;
            var p = parameters[i];
            var summed = flat.narrow(0, offsets[i], offsets[i + 1] - offsets[i]).view(p.shape);
            if (p.grad is { } g) g.copy_(summed);
            else p.grad = summed.to(p.dtype, copy: true);
        }
        return true;
    }

    /// <summary>The start-of-run line: ranks and bytes per step.</summary>
    public string Describe(int microBatchSize, int accumulation) => string.Create(CultureInfo.InvariantCulture,
        $"data parallel: {WorldSize} ranks, global batch {microBatchSize} x {accumulation} x {WorldSize} = {microBatchSize * accumulation * WorldSize} rows per step, " +
        $"gradient all-reduce {GradientBytesPerStep:N0} bytes per step ({parameters.Count} trainable tensors, fp32)");

    /// <summary>The end-of-run line: the share of the training time spent in collectives.</summary>
    public string Summary(TimeSpan trainingTime, int steps) => string.Create(CultureInfo.InvariantCulture,
        $"data parallel: {CollectiveTime.TotalSeconds:F2} s of {trainingTime.TotalSeconds:F2} s in collectives ({100 * CollectiveTime.TotalSeconds / Math.Max(1e-9, trainingTime.TotalSeconds):F1}%), " +
        $"{1000 * CollectiveTime.TotalSeconds / Math.Max(1, steps):F1} ms per step");

    TimedGuard Timed(string what, int step)
    {
        inCollectives.Start();
        return new TimedGuard(watchdog!.Arm(what, step), inCollectives);
    }

    readonly struct TimedGuard(CollectiveWatchdog.Guard guard, Stopwatch clock) : IDisposable
    {
        public void Dispose()
        {
            guard.Dispose();
            clock.Stop();
        }
    }

    /// <summary>Stops the watchdog and frees the gradient buffer.</summary>
    public void Dispose()
    {
        watchdog?.Dispose();
        flat?.Dispose();
    }
}
