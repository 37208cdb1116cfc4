using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Nn.Fused;

/// <summary>
/// RMSNorm y = w·cast(x·rsqrt(mean(x²)+eps)) with its own backward. Autograd through the plain ops keeps the fp32 copy
/// of x and the normalised value per layer; this keeps only x and the per-row inverse RMS and recomputes the normalised
/// value in backward. The forward runs the same ops as <see cref="RmsNorm"/>, so its output is bitwise the same.
/// </summary>
public sealed class RmsNormFunction : autograd.SingleTensorFunction<RmsNormFunction>
{
    /// <summary>The autograd node's name, "RmsNormFunction".</summary>
    public override string Name => nameof(RmsNormFunction);

    /// <summary>y = RMSNorm(x) · weight; the weight gets a gradient only if it requires one.</summary>
    public static Tensor Apply(Tensor x, Tensor weight, double eps) => AutogradHandoff.Applied(apply(x, weight, eps));

    /// <summary>fp64 stays fp64; everything else is normalised in fp32.</summary>
    static ScalarType ComputeType(Tensor x) => x.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;

    /// <summary>
    /// Autograd entry, called by TorchSharp through <see cref="Apply"/>; call that instead. Saves x, the per-row
    /// inverse RMS and the weight.
    /// </summary>
    /// <param name="ctx">The autograd context.</param>
    /// <param name="vars">x, the weight [x.shape[-1]] and eps (double).</param>
    /// <returns>The normalised, scaled x in x's dtype (or the promoted dtype when the weight is wider).</returns>
    /// <exception cref="ArgumentException">The weight is not 1-D of the input's last-dimension size.</exception>
    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var weight = (Tensor)vars[1];
        double eps = (double)vars[2];
        if (weight.ndim != 1 || weight.shape[0] != x.shape[^1])
            throw new ArgumentException($"RMSNorm weight has shape [{string.Join(", ", weight.shape)}]; the input's last dimension is {x.shape[^1]}");
        using var scope = NewDisposeScope();
        var compute = ComputeType(x);
        var xc = x.to(compute);
        var inv = xc.pow(2).mean(new long[] { -1 }, keepdim: true).add_(eps).rsqrt_();
        var normed = (x.dtype != compute ? xc.mul_(inv) : xc * inv).to(x.dtype); // in place only on a fresh copy
        var y = promote_types(weight.dtype, x.dtype) == x.dtype ? normed.mul_(weight) : weight * normed;
        ctx.save_data("needX", x.requires_grad);
        ctx.save_data("needW", weight.requires_grad);
        AutogradHandoff.Save(ctx, x, inv, weight); // the weight is a parameter: no extra memory
        return AutogradHandoff.Output(y);
    }

    /// <summary>
    /// Autograd entry: dx = inv·(dn − n·mean(dn·n)) with dn = g·w, and dw = Σ g·n over the leading dimensions, computed
    /// in fp32 (fp64 for fp64).
    /// </summary>
    /// <param name="ctx">The context forward saved into.</param>
    /// <param name="grad">dL/dy, shaped like x.</param>
    /// <returns>dx, dw (null where not required) and null for eps.</returns>
    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad)
    {
        if (AutogradHandoff.NoGradient(grad)) return AutogradHandoff.Return(grad, null, null, null);
        using var scope = NewDisposeScope();
        var saved = ctx.get_saved_variables();
        Tensor x = saved[0], inv = saved[1], weight = saved[2];
        var compute = ComputeType(x);
        var xc = x.to(compute);
        var n = x.dtype != compute ? xc.mul_(inv) : xc * inv; // the normalised value, before rounding to x's dtype
        var gc = grad.to(compute);
        Tensor? dw = null, dx = null;
        if ((bool)ctx.get_data("needW"))
        {
            // d/dw of w·cast(n) is cast(n), summed over every leading dimension.
            var prod = gc * n.to(x.dtype).to(compute);
            var lead = Enumerable.Range(0, (int)x.ndim - 1).Select(i => (long)i).ToArray();
            dw = (lead.Length == 0 ? prod : prod.sum(lead)).to(weight.dtype);
        }
        if ((bool)ctx.get_data("needX"))
        {
            var dn = grad.dtype != compute ? gc.mul_(weight) : gc * weight;          // dL/dn
            var dot = (dn * n).mean(new long[] { -1 }, keepdim: true);
            dx = dn.addcmul_(n, dot, -1).mul_(inv).to(x.dtype);                      // inv·(dn − n·mean(dn·n))
        }
        return AutogradHandoff.Return(grad, dx, dw, null);
    }
}
