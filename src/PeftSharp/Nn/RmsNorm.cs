using PeftSharp.Nn.Fused;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Nn;

/// <summary>RMSNorm as HF's Llama computes it: normalise in fp32 (fp64 stays fp64), cast back, then scale by the weight.</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    /// <summary>Scale, [size]; starts at ones.</summary>
    public Parameter weight;
    /// <summary>Added to the mean square for stability (HF rms_norm_eps, e.g. 1e-5 or 1e-6).</summary>
    public double Eps { get; }

    /// <summary>An RMSNorm over the last dimension with weight ones.</summary>
    /// <param name="size">The normalised (last) dimension: the hidden size.</param>
    /// <param name="eps">rms_norm_eps from the model config.</param>
    /// <param name="dtype">Weight dtype; default fp32.</param>
    public RmsNorm(int size, double eps, ScalarType dtype = ScalarType.Float32) : base(nameof(RmsNorm))
    {
        Eps = eps;
        weight = new Parameter(ones(size, dtype: dtype));
        RegisterComponents();
    }

    /// <summary>
    /// w·cast(x·rsqrt(mean(x²) + eps)), normalised in fp32 (fp64 in fp64); under training with the fused fast path on,
    /// through <see cref="RmsNormFunction"/> (same output, less saved memory).
    /// </summary>
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
