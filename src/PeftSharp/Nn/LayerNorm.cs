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
    public Parameter weight;
    public Parameter bias;
    public double Eps { get; }

    public LayerNorm(int size, double eps = 1e-5, ScalarType dtype = ScalarType.Float32) : base(nameof(LayerNorm))
    {
        Eps = eps;
        weight = new Parameter(ones(size, dtype: dtype));
        bias = new Parameter(zeros(size, dtype: dtype));
        RegisterComponents();
    }

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
