using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Nn;

/// <summary>
/// LayerNorm with the checkpoint's parameter names (`weight`, `bias`), computed in at least fp32 (a bf16 model
/// normalises in fp32 and casts back; fp64 stays fp64), as the design's numerics ask.
/// </summary>
public sealed class LayerNorm : nn.Module<Tensor, Tensor>
{
    /// <summary>Scale γ, [size]; starts at ones.</summary>
    public Parameter weight;
    /// <summary>Shift β, [size]; starts at zeros.</summary>
    public Parameter bias;
    /// <summary>Added to the variance for stability (HF layer_norm_eps); default 1e-5.</summary>
    public double Eps { get; }

    /// <summary>
    /// A LayerNorm over the last dimension of size <paramref name="size"/>, initialised as torch's (γ = 1, β = 0).
    /// </summary>
    /// <param name="size">The normalised (last) dimension.</param>
    /// <param name="eps">Variance epsilon; default 1e-5 (Whisper's).</param>
    /// <param name="dtype">Parameter dtype; default fp32.</param>
    public LayerNorm(int size, double eps = 1e-5, ScalarType dtype = ScalarType.Float32) : base(nameof(LayerNorm))
    {
        Eps = eps;
        weight = new Parameter(ones(size, dtype: dtype));
        bias = new Parameter(zeros(size, dtype: dtype));
        RegisterComponents();
    }

    /// <summary>
    /// (x − mean)/sqrt(var + eps)·γ + β over the last dimension, computed in fp32 for narrower inputs (fp64 in fp64)
    /// and cast back to x's dtype.
    /// </summary>
    public override Tensor forward(Tensor x)
    {
        if (x.dtype is ScalarType.Float32 or ScalarType.Float64 && weight.dtype == x.dtype)
            return nn.functional.layer_norm(x, new[] { weight.shape[0] }, weight, bias, Eps);
        using var scope = NewDisposeScope();
        var wide = x.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        var y = nn.functional.layer_norm(x.to(wide), new[] { weight.shape[0] }, weight.to(wide), bias.to(wide), Eps);
        return y.to(x.dtype).MoveToOuterDisposeScope();
    }
}
