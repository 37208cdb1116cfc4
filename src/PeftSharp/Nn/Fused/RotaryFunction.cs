using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Nn.Fused;

/// <summary>
/// Rotary embedding y = x·cos + rotate_half(x)·sin (HF layout) with its own backward. The rotation is linear in x, so
/// the backward is the transposed rotation dx = g·cos + rotate_half_T(g·sin), rotate_half_T([v1, v2]) = [v2, −v1]:
/// nothing is kept but cos and sin, which every layer shares. No cat and no negated copy: the forward writes x·cos and
/// subtracts/adds the half-width products into it in place (the same roundings as the plain ops, so bitwise their
/// output: an activation-checkpointed block recomputes exactly what its no-grad forward computed); the backward is one
/// multiply and two half-width addcmul_ passes.
/// </summary>
public sealed class RotaryFunction : autograd.SingleTensorFunction<RotaryFunction>
{
    /// <summary>The autograd node's name, "RotaryFunction".</summary>
    public override string Name => nameof(RotaryFunction);

    /// <summary>Rotates x [.., headDim] by cos/sin (broadcastable to x; constants without gradient).</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin) => AutogradHandoff.Applied(apply(x, cos, sin));

    /// <summary>
    /// Autograd entry, called by TorchSharp through <see cref="Apply"/>; call that instead. Saves only cos and sin.
    /// </summary>
    /// <param name="ctx">The autograd context.</param>
    /// <param name="vars">x [.., headDim], cos and sin (broadcastable to x).</param>
    /// <returns>The rotated x.</returns>
    /// <exception cref="ArgumentException">The last dimension is odd or differs between x, cos and sin.</exception>
    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var cos = (Tensor)vars[1];
        var sin = (Tensor)vars[2];
        if (x.shape[^1] % 2 != 0 || cos.shape[^1] != x.shape[^1] || sin.shape[^1] != x.shape[^1])
            throw new ArgumentException($"rotary needs an even last dimension equal in x [{string.Join(", ", x.shape)}], cos [{string.Join(", ", cos.shape)}] and sin [{string.Join(", ", sin.shape)}]");
        ctx.save_data("dtype", x.dtype);
        AutogradHandoff.Save(ctx, cos, sin);
        using var scope = NewDisposeScope();
        long half = x.shape[^1] / 2;
        var y = x * cos;
        y.narrow(-1, 0, half).sub_(x.narrow(-1, half, half) * sin.narrow(-1, 0, half));   // − x2·s1
        y.narrow(-1, half, half).add_(x.narrow(-1, 0, half) * sin.narrow(-1, half, half)); // + x1·s2
        return AutogradHandoff.Output(y);
    }

    /// <summary>Autograd entry: the transposed rotation dx = g·cos + rotate_half_T(g·sin).</summary>
    /// <param name="ctx">The context forward saved into.</param>
    /// <param name="grad">dL/dy, shaped like x.</param>
    /// <returns>dx in x's dtype, and null for cos and sin.</returns>
    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad)
    {
        if (AutogradHandoff.NoGradient(grad)) return AutogradHandoff.Return(grad, null, null, null);
        using var scope = NewDisposeScope();
        var saved = ctx.get_saved_variables();
        Tensor cos = saved[0], sin = saved[1];
        long half = grad.shape[^1] / 2;
        var dx = grad * cos;
        Tensor g1 = grad.narrow(-1, 0, half), g2 = grad.narrow(-1, half, half);
        dx.narrow(-1, 0, half).addcmul_(g2, sin.narrow(-1, half, half), 1);   // R^T(g·sin) = [g2·s2, −g1·s1]
        dx.narrow(-1, half, half).addcmul_(g1, sin.narrow(-1, 0, half), -1);
        return AutogradHandoff.Return(grad, dx.to((ScalarType)ctx.get_data("dtype")), null, null);
    }
}
