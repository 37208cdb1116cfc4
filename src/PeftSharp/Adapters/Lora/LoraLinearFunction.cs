using PeftSharp.Nn;
using PeftSharp.Nn.Fused;
using TorchSharp;
using static TorchSharp.torch;
using Linear = PeftSharp.Nn.Linear;

namespace PeftSharp.Adapters.Lora;

/// <summary>
/// A LoRA Linear as one autograd function: y = x Wᵀ + b + s·(x Aᵀ)Bᵀ in x's dtype (bf16 training runs the adapter
/// path in bf16, as PEFT under autocast does; the fp32 parameters get fp32 gradients). Compared with the plain
/// composition it keeps only x (which the caller keeps anyway) and the [tokens, r] product x Aᵀ, adds the adapter
/// into the base output in place with the scaling folded into the matmul, and never materialises an fp32 copy of x
/// or of the [tokens, out] adapter output. A quantized base is dequantized again in backward unless
/// <see cref="FastPaths.KeepDequantizedWeight"/> asks to keep the forward's copy.
/// </summary>
public sealed class LoraLinearFunction : autograd.SingleTensorFunction<LoraLinearFunction>
{
    /// <inheritdoc/>
    public override string Name => nameof(LoraLinearFunction);

    /// <summary>Arguments: x, A [r, in], B [out, r], bias or null, host Linear, scaling.</summary>
    public static Tensor Apply(Tensor x, Tensor a, Tensor b, Tensor? bias, Linear host, double scaling) =>
        AutogradHandoff.Applied(apply(x, a, b, bias!, host, scaling));

    /// <summary>
    /// TorchSharp's forward of the function; call <see cref="Apply"/> instead, which passes the arguments in this
    /// order.
    /// </summary>
    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var a = (Tensor)vars[1];
        var b = (Tensor)vars[2];
        var bias = vars[3] as Tensor;
        var host = (Linear)vars[4];
        double scaling = (double)vars[5];
        using var scope = NewDisposeScope();
        // Where only the graph is used (a checkpointed block's last op, re-run in backward) the base GEMM is skipped.
        bool valueUnused = OutputValueUnused.Active;
        // bf16 GEMMs run as fp32 ones where that is faster (WideGemm): x is widened once for the base and the adapter.
        var gemm = WideGemm.For(x, x.dtype);
        var x2 = x.reshape(-1, x.shape[^1]);
        var xg = x2.to(gemm);
        Tensor? kept = null;
        var y = valueUnused
            ? empty(new[] { x2.shape[0], b.shape[0] }, gemm, x.device)
            : host.BaseOutputNoGrad(xg, FastPaths.KeepDequantizedWeight, out kept).to(gemm);
        var xa = xg.matmul(a.to(gemm).t());
        y.addmm_(xa, b.to(gemm).t(), beta: valueUnused ? 0 : 1, alpha: (float)scaling);
        y = y.to(x.dtype).view(x.shape.SkipLast(1).Append(b.shape[0]).ToArray());
        AutogradHandoff.Save(ctx, kept is null ? new[] { x2, xa, a, b } : new[] { x2, xa, a, b, kept });
        ctx.save_data("host", host);
        ctx.save_data("scaling", scaling);
        ctx.save_data("needs", (x.requires_grad, a.requires_grad, b.requires_grad, bias is not null && bias.requires_grad));
        ctx.save_data("inShape", x.shape);
        ctx.save_data("dtypes", (x.dtype, a.dtype, b.dtype));
        return AutogradHandoff.Output(y.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Gradients for x, A, B and the bias (those that require them) from the output gradient; none for the host and
    /// scaling.
    /// </summary>
    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad)
    {
        if (AutogradHandoff.NoGradient(grad)) return AutogradHandoff.Return(grad, null, null, null, null, null, null);
        using var scope = NewDisposeScope();
        var saved = ctx.get_saved_variables();
        var (x2, xa, a, b) = (saved[0], saved[1], saved[2], saved[3]);
        var host = (Linear)ctx.get_data("host");
        double s = (double)ctx.get_data("scaling");
        var (needX, needA, needB, needBias) = ((bool, bool, bool, bool))ctx.get_data("needs");
        var (xType, aType, bType) = ((ScalarType, ScalarType, ScalarType))ctx.get_data("dtypes");
        var gemm = xa.dtype; // forward's GEMM dtype (fp32 where it widened bf16)
        var g = grad.reshape(-1, grad.shape[^1]).to(gemm);
        var gb = g.matmul(b.to(gemm)); // [tokens, r]: dL/d(x Aᵀ) before the scaling
        Tensor? dx = null, da = null, db = null, dbias = null;
        if (needX)
        {
            dx = saved.Count > 4 ? g.matmul(WideGemm.Weight(saved[4], gemm)) : host.BaseInputGradient(g);
            dx = dx.addmm_(gb, a.to(gemm), beta: 1, alpha: (float)s).to(xType).view((long[])ctx.get_data("inShape"));
        }
        if (needA) da = gb.t().matmul(x2.to(gemm)).mul_(s).to(aType);
        if (needB) db = g.t().matmul(xa).mul_(s).to(bType);
        if (needBias) dbias = g.sum(new long[] { 0 }).to(xType);
        return AutogradHandoff.Return(grad, dx, da, db, dbias, null, null);
    }
}
