using PeftSharp.Nn.Fused;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Nn;

/// <summary>RMSNorm as HF's Llama computes it: normalise in fp32 (fp64 stays fp64), cast back, then scale by the weight.</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    public Parameter weight;
    public double Eps { get; }

    public RmsNorm(int size, double eps, ScalarType dtype = ScalarType.Float32) : base(nameof(RmsNorm))
    {
        Eps = eps;
        weight = new Parameter(ones(size, dtype: dtype));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        if (FastPaths.FusedRmsNorm && is_grad_enabled() && (x.requires_grad || weight.requires_grad))
            return RmsNormFunction.Apply(x, weight, Eps);
        using var scope = NewDisposeScope();
        // At least fp32: an fp64 model (gradient checks) must not be rounded to fp32 here.
        var x32 = x.dtype == ScalarType.Float64 ? x : x.to(ScalarType.Float32);
        var normed = x32 * rsqrt(x32.pow(2).mean(new long[] { -1 }, keepdim: true) + Eps);
        return (weight * normed.to(x.dtype)).MoveToOuterDisposeScope();
    }
}
