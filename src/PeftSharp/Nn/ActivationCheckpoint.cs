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
    public override string Name => nameof(ActivationCheckpoint);

    /// <summary>y = block(x, constants) with activations recomputed in backward. Constants get no gradient.</summary>
    public static Tensor Apply(Func<Tensor, IReadOnlyList<Tensor>, Tensor> block, Tensor x, params Tensor[] constants) =>
        apply(new object[] { x, block }.Concat(constants.Cast<object>()).ToArray());

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var block = (Func<Tensor, IReadOnlyList<Tensor>, Tensor>)vars[1];
        var constants = vars.Skip(2).Cast<Tensor>().ToList();
        ctx.save_data("block", block);
        ctx.save_data("constants", constants.Count);
        ctx.save_for_backward(new List<Tensor> { x.detach(), get_rng_state() }.Concat(constants).ToList());
        using var _ = no_grad();
        return block(x, constants);
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad)
    {
        var saved = ctx.get_saved_variables();
        var block = (Func<Tensor, IReadOnlyList<Tensor>, Tensor>)ctx.get_data("block");
        int constants = (int)ctx.get_data("constants");
        var x = saved[0].detach().requires_grad_(true);
        var rng = get_rng_state();
        set_rng_state(saved[1]);
        using (enable_grad())
        {
            var y = block(x, saved.Skip(2).Take(constants).ToList());
            y.backward(new[] { grad });
        }
        set_rng_state(rng);
        var grads = new List<Tensor> { x.grad ?? zeros_like(x), null! };
        for (int i = 0; i < constants; i++) grads.Add(null!);
        return grads;
    }
}
