using PeftSharp.Adapters.Lora;
using PeftSharp.Nn;
using PeftSharp.Nn.Quantized;
using PeftSharp.Quantization;
using PeftSharp.Tests.Support;
using Linear = PeftSharp.Nn.Linear;

namespace PeftSharp.Tests.Adapters;

/// <summary>The fused LoRA Linear (one autograd function for base + adapter) against the plain composition.</summary>
[Collection(GlobalRngCollection.Name)] // flips the process-wide FastPaths.KeepDequantizedWeight
public class LoraLinearFunctionTests
{
    static (Linear Host, LoraLinear Lora) Layer(ScalarType dtype, bool bias, int seed, bool rslora = false, double dropout = 0, bool dora = false)
    {
        var g = manual_seed(seed);
        var host = new Linear(24, 40, bias, dtype);
        using (no_grad())
        {
            host.weight.copy_(randn(40, 24, generator: g) * 0.2);
            host.bias?.copy_(randn(40, generator: g));
        }
        host.weight.requires_grad = false;
        if (host.bias is not null) host.bias.requires_grad = false;
        var lora = new LoraLinear(host, "default", 4, 8, rslora, dropout, dora, "true", g);
        using (no_grad()) lora.B.weight.copy_(randn(40, 4, generator: g) * 0.3); // B = 0 would hide half the backward
        host.Adapters.SetActive(new[] { "default" });
        lora.Training = true;
        return (host, lora);
    }

    static (Tensor Y, Tensor Dx, Tensor DA, Tensor DB) Run(Linear host, LoraLinear lora, Tensor x, Tensor upstream, bool fused)
    {
        lora.A.weight.grad?.zero_();
        lora.B.weight.grad?.zero_();
        var xi = x.detach().requires_grad_(true);
        var y = fused ? lora.FusedForward(xi, host)! : lora.Apply(xi, host.BaseForward(xi), host);
        y.backward(new[] { upstream });
        return (y.detach(), xi.grad!.clone(), lora.A.weight.grad!.clone(), lora.B.weight.grad!.clone());
    }

    static void Close(Tensor expected, Tensor actual, double tol, string what)
    {
        double err = (expected.to(ScalarType.Float64) - actual.to(ScalarType.Float64)).abs().max().item<double>();
        double scale = expected.to(ScalarType.Float64).abs().max().item<double>();
        Assert.True(err <= tol * Math.Max(1, scale), $"{what}: max error {err:E3} (scale {scale:E3})");
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void Fused_output_and_gradients_equal_the_plain_path_in_fp32(bool bias, bool rslora)
    {
        var (host, lora) = Layer(ScalarType.Float32, bias, 1, rslora);
        var x = randn(new long[] { 3, 5, 24 }, generator: manual_seed(2));
        var up = randn(new long[] { 3, 5, 40 }, generator: manual_seed(3));
        var plain = Run(host, lora, x, up, fused: false);
        var fused = Run(host, lora, x, up, fused: true);
        Close(plain.Y, fused.Y, 1e-5, "output");
        Close(plain.Dx, fused.Dx, 1e-5, "dx");
        Close(plain.DA, fused.DA, 1e-5, "dA");
        Close(plain.DB, fused.DB, 1e-5, "dB");
    }

    [Fact]
    public void Fused_bf16_path_is_within_bf16_round_off_and_gives_fp32_gradients()
    {
        var (host, lora) = Layer(ScalarType.BFloat16, true, 4);
        var x = randn(new long[] { 64, 24 }, generator: manual_seed(5)).to(ScalarType.BFloat16);
        var up = randn(new long[] { 64, 40 }, generator: manual_seed(6)).to(ScalarType.BFloat16);
        var plain = Run(host, lora, x, up, fused: false);
        var fused = Run(host, lora, x, up, fused: true);
        Assert.Equal(ScalarType.Float32, fused.DA.dtype);
        Assert.Equal(ScalarType.BFloat16, fused.Dx.dtype);
        Close(plain.Y, fused.Y, 2e-2, "output");
        Close(plain.Dx, fused.Dx, 2e-2, "dx");
        Close(plain.DA, fused.DA, 2e-2, "dA");
        Close(plain.DB, fused.DB, 2e-2, "dB");
    }

    [Fact]
    public void Fused_gradients_match_finite_differences_in_fp64()
    {
        var (host, lora) = Layer(ScalarType.Float64, true, 7);
        var x = randn(new long[] { 6, 24 }, ScalarType.Float64, generator: manual_seed(8)).requires_grad_(true);
        var w = randn(new long[] { 6, 40 }, ScalarType.Float64, generator: manual_seed(9));
        double Loss() { using var _ = no_grad(); return (lora.Apply(x, host.BaseForward(x), host) * w).sum().item<double>(); }
        (lora.FusedForward(x, host)! * w).sum().backward();
        const double h = 1e-6;
        foreach (var (p, name) in new[] { (x, "x"), (lora.A.weight, "A"), (lora.B.weight, "B") })
            foreach (long k in new long[] { 0, 5, 17, p.numel() - 1 })
            {
                var flat = p.view(-1);
                using (no_grad()) flat[k].add_(h);
                double plus = Loss();
                using (no_grad()) flat[k].sub_(2 * h);
                double minus = Loss();
                using (no_grad()) flat[k].add_(h);
                double analytic = p.grad!.view(-1)[k].item<double>();
                Assert.True(Math.Abs(analytic - (plus - minus) / (2 * h)) < 1e-6, $"{name}[{k}]: analytic {analytic} vs fd {(plus - minus) / (2 * h)}");
            }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Fused_path_over_an_nf4_base_equals_the_plain_quantized_path(bool keepDequantized)
    {
        var (host, lora) = Layer(ScalarType.Float32, true, 11);
        host.SetQuantized(FourBitWeight.Quantize(host.weight.detach().clone(), QuantType.Nf4, 32, true, ScalarType.Float32));
        var x = randn(new long[] { 8, 24 }, generator: manual_seed(12));
        var up = randn(new long[] { 8, 40 }, generator: manual_seed(13));
        var plain = Run(host, lora, x, up, fused: false);
        bool saved = FastPaths.KeepDequantizedWeight;
        try
        {
            FastPaths.KeepDequantizedWeight = keepDequantized;
            var fused = Run(host, lora, x, up, fused: true);
            Close(plain.Y, fused.Y, 1e-5, "output");
            Close(plain.Dx, fused.Dx, 1e-5, "dx");
            Close(plain.DA, fused.DA, 1e-5, "dA");
            Close(plain.DB, fused.DB, 1e-5, "dB");
        }
        finally { FastPaths.KeepDequantizedWeight = saved; }
    }

    [Fact]
    public void Fused_path_is_declined_where_it_would_change_the_method()
    {
        var x = randn(new long[] { 2, 24 }).requires_grad_(true);
        var (dropHost, dropLora) = Layer(ScalarType.Float32, false, 1, dropout: 0.1);
        Assert.Null(dropLora.FusedForward(x, dropHost));       // a dropout mask must be drawn
        dropLora.Training = false;
        Assert.NotNull(dropLora.FusedForward(x, dropHost));    // eval: dropout is the identity
        var (doraHost, doraLora) = Layer(ScalarType.Float32, false, 1, dora: true);
        Assert.Null(doraLora.FusedForward(x, doraHost));       // DoRA keeps its own formula
        var (host, lora) = Layer(ScalarType.Float32, false, 1);
        using (no_grad()) Assert.Null(lora.FusedForward(x, host)); // inference keeps PEFT's fp32 adapter path
        host.weight.requires_grad = true;
        Assert.Null(lora.FusedForward(x, host));               // a trained base needs its weight gradient
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Where_the_output_value_is_unused_the_base_gemm_is_skipped_and_the_gradients_are_unchanged(bool nf4)
    {
        var (host, lora) = Layer(ScalarType.Float32, true, 21);
        if (nf4) host.SetQuantized(FourBitWeight.Quantize(host.weight.detach().clone(), QuantType.Nf4, 32, true, ScalarType.Float32));
        var x = randn(new long[] { 8, 24 }, generator: manual_seed(22));
        var up = randn(new long[] { 8, 40 }, generator: manual_seed(23));
        var normal = Run(host, lora, x, up, fused: true);
        (Tensor Y, Tensor Dx, Tensor DA, Tensor DB) graphOnly;
        using (OutputValueUnused.Enter()) graphOnly = Run(host, lora, x, up, fused: true);
        Assert.False(OutputValueUnused.Active);
        // Same backward, same numbers: the skipped value never entered it.
        Assert.True(graphOnly.Dx.equal(normal.Dx).all().item<bool>(), "dx");
        Assert.True(graphOnly.DA.equal(normal.DA).all().item<bool>(), "dA");
        Assert.True(graphOnly.DB.equal(normal.DB).all().item<bool>(), "dB");
        // The value holds the adapter term alone: the base GEMM (and bias) did not run.
        using var _ = no_grad();
        Close(normal.Y - host.BaseForward(x), graphOnly.Y, 1e-5, "adapter term");
    }
}
