using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Nn;

/// <summary>
/// Activation checkpointing: runs a block without keeping its activations, and recomputes it in backward. Only the
/// block's input (and the constant tensors it needs) are kept, trading one extra forward per block for the memory of
/// its intermediate activations. The random state is replayed, so dropout draws the same mask in the recomputation.
/// TorchSharp aborts the process on an exception inside backward: the recomputation runs the same code as forward.
/// </summary>
public sealed class ActivationCheckpoint : autograd.SingleTensorFunction<ActivationCheckpoint>
{
    [ThreadStatic] static int recomputing;
    [ThreadStatic] static List<Tensor>? keeping;     // the first run's kept outputs (see ComputedOnce)
    [ThreadStatic] static Queue<Tensor>? replaying;  // the re-run's: the same outputs, in call order

    /// <summary>
    /// True while backward re-runs a block on this thread: the block's last op may then skip its output value (see
    /// <see cref="OutputValueUnused"/>), since only the graph is used.
    /// </summary>
    public static bool Recomputing => recomputing > 0;

    /// <summary>
    /// An op whose output the re-run takes from the block's first run instead of computing it again: <paramref
    /// name="op"/>(null) computes it; op(kept), given that output, must build only its autograd graph around it. Inside a
    /// checkpointed block's first run the output is kept until backward (one output's memory per call); in the re-run
    /// the kept outputs are handed back in call order (the re-run replays the same code and random state); elsewhere
    /// this is op(null). Used where the recomputation is dear and the output small (attention: T² work, [B, T, hidden]
    /// output).
    /// </summary>
    public static Tensor ComputedOnce(Func<Tensor?, Tensor> op)
    {
        if (replaying is { Count: > 0 } kept) return op(kept.Dequeue());
        var output = op(null);
        keeping?.Add(output.detach().DetachFromDisposeScope()); // the block's own scopes release the original wrapper
        return output;
    }

    /// <summary>The autograd node's name, "ActivationCheckpoint" (shown in graph dumps and errors).</summary>
    public override string Name => nameof(ActivationCheckpoint);

    /// <summary>y = block(x, constants) with activations recomputed in backward. Constants get no gradient.</summary>
    public static Tensor Apply(Func<Tensor, IReadOnlyList<Tensor>, Tensor> block, Tensor x, params Tensor[] constants) =>
        Fused.AutogradHandoff.Applied(apply(new object[] { x, block }.Concat(constants.Cast<object>()).ToArray()));

    /// <summary>
    /// Autograd entry, called by TorchSharp through <see cref="Apply"/>: runs the block under no_grad, saves its input,
    /// the RNG state and the constants. Call <see cref="Apply"/> instead.
    /// </summary>
    /// <param name="ctx">The autograd context the saved tensors go to.</param>
    /// <param name="vars">x, the block delegate, then the constant tensors.</param>
    /// <returns>The block's output (its graph is not kept).</returns>
    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var block = (Func<Tensor, IReadOnlyList<Tensor>, Tensor>)vars[1];
        var constants = vars.Skip(2).Cast<Tensor>().ToList();
        ctx.save_data("block", block);
        ctx.save_data("constants", constants.Count);
        using var rng = get_rng_state(); // before the block draws (dropout), so the recomputation draws the same
        Tensor output;
        var (outer, kept) = (keeping, new List<Tensor>());
        keeping = kept;
        try
        {
            using (no_grad()) output = block(x, constants);
        }
        finally { keeping = outer; }
        // Saved after the block: the functions it applies release the handoff's pending wrappers when they return.
        Fused.AutogradHandoff.Save(ctx, new[] { x, rng }.Concat(constants).Concat(kept).ToArray());
        foreach (var t in kept) t.Dispose(); // Save holds its own handles
        return Fused.AutogradHandoff.Output(output);
    }

    /// <summary>
    /// Autograd entry: restores the saved RNG state, recomputes the block with grad enabled from the saved input and
    /// back-propagates <paramref name="grad"/> through it.
    /// </summary>
    /// <param name="ctx">The context forward saved into.</param>
    /// <param name="grad">dL/d(output).</param>
    /// <returns>dL/dx, then null for the block delegate and for each constant.</returns>
    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad)
    {
        if (Fused.AutogradHandoff.NoGradient(grad)) return Fused.AutogradHandoff.Return(grad, new Tensor?[2 + (int)ctx.get_data("constants")]);
        // Everything this backward creates (the unpacked inputs, the recomputed block's output and wrappers) is
        // released when it returns, so a recomputed layer's activations never outlive its backward.
        using var scope = NewDisposeScope();
        var saved = ctx.get_saved_variables();
        var block = (Func<Tensor, IReadOnlyList<Tensor>, Tensor>)ctx.get_data("block");
        int constants = (int)ctx.get_data("constants");
        var x = saved[0].detach().requires_grad_(true);
        var rng = get_rng_state();
        set_rng_state(saved[1]);
        using (enable_grad())
        {
            Tensor y;
            var outer = replaying;
            replaying = new Queue<Tensor>(saved.Skip(2 + constants));
            recomputing++;
            try { y = block(x, saved.Skip(2).Take(constants).ToList()); }
            finally
            {
                recomputing--;
                replaying = outer;
            }
            y.backward(new[] { grad });
        }
        set_rng_state(rng);
        var grads = new Tensor?[2 + constants];
        grads[0] = x.grad ?? zeros_like(x);
        return Fused.AutogradHandoff.Return(grad, grads);
    }
}
