using PeftSharp.Nn.Fused;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Nn.Quantized;

/// <summary>
/// y = x Ŵ^T + b over a quantized weight, with its own backward: dx = dy Ŵ, dequantizing Ŵ again instead of keeping
/// the dense weight alive between forward and backward (that would cost 16/32 bits per parameter per layer, the very
/// memory 4-bit storage saves). The weight gets no gradient. An exception in backward aborts the process, so the
/// backward does nothing that can fail on valid shapes.
/// </summary>
public sealed class QuantizedLinearFunction : autograd.SingleTensorFunction<QuantizedLinearFunction>
{
    /// <summary>The autograd node's name, "QuantizedLinearFunction".</summary>
    public override string Name => nameof(QuantizedLinearFunction);

    /// <summary>Arguments: x (Tensor), bias (Tensor or null), weight (IQuantizedWeight).</summary>
    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var bias = vars[1] as Tensor;
        var weight = (IQuantizedWeight)vars[2];
        ctx.save_data("weight", weight);
        ctx.save_data("dtype", x.dtype);
        ctx.save_data("hasBias", bias is not null && bias.requires_grad);
        ctx.set_materialize_grads(false);
        using var scope = NewDisposeScope();
        var y = weight.Matmul(x);
        if (bias is not null) y = y + bias.to(y.dtype);
        return AutogradHandoff.Output(y.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Autograd entry: dx = dy Ŵ with Ŵ dequantized again, and db = Σ dy over the leading dimensions when the bias
    /// trains; the weight gets none.
    /// </summary>
    /// <param name="ctx">The context forward saved into.</param>
    /// <param name="grad">dL/dy, [.., out].</param>
    /// <returns>dx in x's dtype, db or null, and null for the weight.</returns>
    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad)
    {
        if (AutogradHandoff.NoGradient(grad)) return AutogradHandoff.Return(grad, null, null, null);
        using var scope = NewDisposeScope();
        var weight = (IQuantizedWeight)ctx.get_data("weight");
        var dtype = (ScalarType)ctx.get_data("dtype");
        var dx = weight.InputGradient(grad).to(dtype);
        Tensor? db = (bool)ctx.get_data("hasBias") ? grad.reshape(-1, grad.shape[^1]).sum(new long[] { 0 }) : null;
        return AutogradHandoff.Return(grad, dx, db, null);
    }

    /// <summary>
    /// y = x Ŵᵀ + b with the memory-saving backward; what <see cref="Linear.BaseForward"/> uses for a quantized layer.
    /// </summary>
    /// <param name="x">Input [.., in].</param>
    /// <param name="bias">Bias [out], or null.</param>
    /// <param name="weight">The quantized weight (frozen).</param>
    /// <returns>[.., out] in x's dtype.</returns>
    public static Tensor Apply(Tensor x, Tensor? bias, IQuantizedWeight weight) => AutogradHandoff.Applied(apply(x, bias!, weight));
}
