using System.Reflection;
using static TorchSharp.torch;

namespace PeftSharp.Nn.Fused;

/// <summary>
/// Keeps TorchSharp's managed wrappers from holding a custom function's tensors after autograd is done with them.
/// TorchSharp wraps what forward returns and saves, what backward unpacks, the incoming and the returned gradients in
/// managed tensors that land in the caller's dispose scope (a training step's), so each would live until the step
/// ends; and for every output it allocates an uninitialised tensor of the output's size, kept as long as the graph
/// node, only to build zeros if that output gets no gradient. Together that is more memory than the fused functions
/// save. Here: saved tensors and forward's own output wrapper are released as soon as apply() has committed them; the
/// size-of-output allocation is released then too (reached by reflection into TorchSharp 0.107's node; gradients are
/// not materialised, so a missing one arrives as an invalid tensor: see <see cref="NoGradient"/>); returned gradients
/// are released at the next backward on the same thread, the engine having copied them when backward returned.
/// </summary>
internal static class AutogradHandoff
{
    static readonly FieldInfo? NodeField = typeof(autograd.AutogradContext).GetField("_node", BindingFlags.NonPublic | BindingFlags.Instance);

    [ThreadStatic] static List<Tensor>? pendingWrappers;
    [ThreadStatic] static List<autograd.AutogradContext>? pendingContexts;
    [ThreadStatic] static List<Tensor>? pendingGrads;

    /// <summary>
    /// In forward: saves detached copies of the tensors' handles for backward. Call it after any custom function the
    /// forward applies itself (as ActivationCheckpoint does): that function's <see cref="Applied"/> releases every
    /// pending wrapper on this thread, and a saved wrapper released before apply() commits it comes back as null.
    /// </summary>
    public static void Save(autograd.AutogradContext ctx, params Tensor[] tensors)
    {
        ctx.set_materialize_grads(false);
        var saved = tensors.Select(t => t.detach().DetachFromDisposeScope()).ToList();
        (pendingWrappers ??= new()).AddRange(saved);
        (pendingContexts ??= new()).Add(ctx);
        ctx.save_for_backward(saved);
    }

    /// <summary>In forward, last: the output, out of every dispose scope (apply() returns its own wrapper of it).</summary>
    public static Tensor Output(Tensor output)
    {
        (pendingWrappers ??= new()).Add(output.DetachFromDisposeScope());
        return output;
    }

    /// <summary>Wraps apply(): releases what forward left for it (autograd holds its own references by now).</summary>
    public static Tensor Applied(Tensor output)
    {
        if (pendingWrappers is { } wrappers)
        {
            foreach (var t in wrappers) t.Dispose();
            wrappers.Clear();
        }
        if (pendingContexts is { } contexts)
        {
            foreach (var ctx in contexts) ReleaseOutputCache(ctx);
            contexts.Clear();
        }
        return output;
    }

    /// <summary>In backward, first: true when the output got no gradient (then return <see cref="Return"/> of nulls).</summary>
    public static bool NoGradient(Tensor grad) => grad is null || grad.IsInvalid;

    /// <summary>
    /// In backward, last: the gradients to return (null where none), taken out of every dispose scope and released at the
    /// next backward on this thread; the incoming gradient's wrapper is released now.
    /// </summary>
    public static List<Tensor> Return(Tensor incoming, params Tensor?[] grads)
    {
        var previous = pendingGrads;
        pendingGrads = grads.Where(g => g is not null).Select(g => g!.DetachFromDisposeScope()).ToList();
        if (previous is not null) foreach (var t in previous) t.Dispose();
        incoming?.Dispose();
        return grads.ToList()!;
    }

    /// <summary>Disposes the node's size-of-output tensors, kept for materialising missing gradients (switched off).</summary>
    static void ReleaseOutputCache(autograd.AutogradContext ctx)
    {
        var node = NodeField?.GetValue(ctx);
        if (node?.GetType().GetField("_outputCache", BindingFlags.NonPublic | BindingFlags.Instance)?.GetValue(node) is not List<Tensor> cache) return;
        for (int i = 0; i < cache.Count; i++)
        {
            cache[i]?.Dispose();
            cache[i] = null!;
        }
    }
}
