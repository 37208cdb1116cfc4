using PeftSharp.Training.Optimization;
using TorchSharp.Modules;

namespace PeftSharp.Tests.Training;

public class GradientClippingTests
{
    static (Parameter A, Parameter B, Parameter Frozen) Params(float[] ga, float[] gb)
    {
        var a = new Parameter(zeros(ga.Length)) { grad = tensor(ga) };
        var b = new Parameter(zeros(gb.Length)) { grad = tensor(gb) };
        return (a, b, new Parameter(zeros(3)));
    }

    [Fact]
    public void Scales_to_max_norm_and_returns_the_pre_clip_norm()
    {
        var (a, b, frozen) = Params([3f, 4f], [12f]); // sqrt(9 + 16 + 144) = 13
        double norm = GradientClipping.ClipByGlobalNorm([a, b, frozen], 6.5);
        Assert.Equal(13.0, norm, 1e-6);
        double coef = 6.5 / (13 + 1e-6);
        Assert.Equal(3 * coef, a.grad!.data<float>()[0], 1e-6);
        Assert.Equal(4 * coef, a.grad!.data<float>()[1], 1e-6);
        Assert.Equal(12 * coef, b.grad!.data<float>()[0], 1e-6);
        Assert.Null(frozen.grad);
    }

    [Fact]
    public void Leaves_gradients_alone_below_max_norm()
    {
        var (a, b, _) = Params([3f, 4f], [12f]);
        Assert.Equal(13.0, GradientClipping.ClipByGlobalNorm([a, b], 20), 1e-6);
        Assert.Equal([3f, 4f], a.grad!.data<float>().ToArray());
        Assert.Equal([12f], b.grad!.data<float>().ToArray());
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void Reports_non_finite_norm_without_scaling(float bad)
    {
        var (a, b, _) = Params([3f, bad], [12f]);
        double norm = GradientClipping.ClipByGlobalNorm([a, b], 1.0);
        Assert.False(double.IsFinite(norm));
        Assert.Equal(12f, b.grad!.data<float>()[0]);
        Assert.Equal(3f, a.grad!.data<float>()[0]);
    }

    [Fact]
    public void No_gradients_give_norm_zero()
    {
        using var p = new Parameter(ones(2));
        Assert.Equal(0.0, GradientClipping.ClipByGlobalNorm([p], 1.0));
    }
}
