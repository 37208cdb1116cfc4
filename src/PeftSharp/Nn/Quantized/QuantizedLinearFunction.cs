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

    public static Tensor Apply(Tensor x, Tensor? bias, IQuantizedWeight weight) => AutogradHandoff.Applied(apply(x, bias!, weight));
}
