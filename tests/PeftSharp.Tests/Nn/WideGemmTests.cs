using PeftSharp.Adapters.Lora;
using PeftSharp.Nn;
using PeftSharp.Nn.Quantized;
using PeftSharp.Quantization;
using PeftSharp.Tests.Support;
using Linear = PeftSharp.Nn.Linear;

namespace PeftSharp.Tests.Nn;

/// <summary>bf16 GEMMs widened to fp32 (faster on CPUs without AMX): same products up to summation order.</summary>
[Collection(GlobalRngCollection.Name)] // flips the process-wide FastPaths.WideBf16Gemm
public class WideGemmTests
{
    sealed class Widening : IDisposable
    {
        readonly bool saved = FastPaths.WideBf16Gemm;
        public Widening(bool on) => FastPaths.WideBf16Gemm = on;
        public void Dispose() => FastPaths.WideBf16Gemm = saved;
    }

    [Fact]
    public void Only_bf16_cpu_products_with_enough_rows_are_widened()
    {
        using (new Widening(true))
        {
            Assert.Equal(ScalarType.Float32, WideGemm.For(zeros(2, WideGemm.MinRows / 2, 8, dtype: ScalarType.BFloat16), ScalarType.BFloat16));
            Assert.Equal(ScalarType.BFloat16, WideGemm.For(zeros(WideGemm.MinRows - 1, 8, dtype: ScalarType.BFloat16), ScalarType.BFloat16));
            Assert.Equal(ScalarType.Float16, WideGemm.For(zeros(64, 8, dtype: ScalarType.Float16), ScalarType.Float16));
            Assert.Equal(ScalarType.Float32, WideGemm.For(zeros(64, 8), ScalarType.BFloat16)); // a widened x of a bf16 4-bit base
        }
        using (new Widening(false))
            Assert.Equal(ScalarType.BFloat16, WideGemm.For(zeros(64, 8, dtype: ScalarType.BFloat16), ScalarType.BFloat16));
    }

    [Fact]
    public void By_default_bf16_gemms_are_widened_exactly_where_that_was_measured_faster_on_this_cpu()
    {
        var (bf16Ms, widenedMs) = WideGemm.Measurement;
        if (System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.X64)
            Assert.True(bf16Ms > 0 && widenedMs > 0, $"measured {bf16Ms} ms (bf16), {widenedMs} ms (widened)");
        Assert.Equal(widenedMs > 0 && widenedMs <= WideGemm.RequiredSpeedup * bf16Ms, WideGemm.MeasuredFaster);
        using (FastPaths.All(false))
        {
            Assert.False(FastPaths.WideBf16Gemm);
            using (FastPaths.All(true))
                Assert.Equal(WideGemm.MeasuredFaster, FastPaths.WideBf16Gemm);
            Assert.False(FastPaths.WideBf16Gemm);
        }
    }

    [Fact]
    public void The_speed_probe_leaves_the_random_state_alone()
    {
        manual_seed(123);
        var expected = rand(8);
        manual_seed(123);
        var (bf16Ms, widenedMs) = WideGemm.Probe();
        Assert.True(bf16Ms > 0 && widenedMs > 0);
        Assert.True(expected.equal(rand(8)).all().item<bool>()); // the probe drew nothing from the global generator
    }

    [Fact]
    public void The_widened_weight_is_an_exact_copy_in_a_reused_buffer()
    {
        var w = randn(40, 24).to(ScalarType.BFloat16);
        Assert.Same(w, WideGemm.Weight(w, ScalarType.BFloat16));
        var wide = WideGemm.Weight(w, ScalarType.Float32);
        Assert.Equal(ScalarType.Float32, wide.dtype);
        Assert.True(wide.equal(w.to(ScalarType.Float32)).all().item<bool>());
        var smaller = WideGemm.Weight(randn(8, 24).to(ScalarType.BFloat16), ScalarType.Float32);
        // No allocation per layer: the next layer's copy overwrote the same buffer.
        Assert.True(wide.view(-1).narrow(0, 0, 8 * 24).equal(smaller.view(-1)).all().item<bool>());
    }

    static Linear Host(int seed, bool nf4)
    {
        var g = manual_seed(seed);
        var host = new Linear(96, 80, true, ScalarType.BFloat16);
        using (no_grad())
        {
            host.weight.copy_(randn(80, 96, generator: g) * 0.1);
            host.bias!.copy_(randn(80, generator: g));
        }
        host.weight.requires_grad = false;
        host.bias!.requires_grad = false;
        if (nf4) host.SetQuantized(FourBitWeight.Quantize(host.weight.detach().to(ScalarType.Float32), QuantType.Nf4, 64, true, ScalarType.BFloat16));
        return host;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Widened_fused_lora_is_as_accurate_as_bf16_against_an_fp64_reference(bool nf4)
    {
        var host = Host(31, nf4);
        var lora = new LoraLinear(host, "default", 8, 16, false, 0, false, "true", manual_seed(32));
        using (no_grad()) lora.B.weight.copy_(randn(80, 8, generator: manual_seed(33)) * 0.3);
        host.Adapters.SetActive(new[] { "default" });
        lora.Training = true;
        var x = randn(new long[] { 2, 48, 96 }, generator: manual_seed(34)).to(ScalarType.BFloat16);
        var up = randn(new long[] { 2, 48, 80 }, generator: manual_seed(35)).to(ScalarType.BFloat16);
        (Tensor Y, Tensor Dx, Tensor DA) Run(bool widen)
        {
            using var _ = new Widening(widen);
            lora.A.weight.grad?.zero_();
            lora.B.weight.grad?.zero_();
            var xi = x.detach().requires_grad_(true);
            var y = lora.FusedForward(xi, host)!;
            y.backward(new[] { up });
            return (y.detach(), xi.grad!.clone(), lora.A.weight.grad!.clone());
        }
        var narrow = Run(false);
        var wide = Run(true);
        Assert.Equal(ScalarType.BFloat16, wide.Y.dtype);
        Assert.Equal(ScalarType.BFloat16, wide.Dx.dtype);
        Assert.False(wide.Y.equal(narrow.Y).all().item<bool>()); // the widened path did run
        // fp64 reference of the same function on the same (bf16-valued) operands.
        using var __ = no_grad();
        var w = host.DenseWeight(ScalarType.Float64);
        var a = lora.A.weight.to(ScalarType.Float64);
        var b = lora.B.weight.to(ScalarType.Float64);
        double s = lora.Scaling;
        var x64 = x.to(ScalarType.Float64).reshape(-1, 96);
        var g64 = up.to(ScalarType.Float64).reshape(-1, 80);
        var y64 = x64.matmul(w.t()) + host.bias!.to(ScalarType.Float64) + s * x64.matmul(a.t()).matmul(b.t());
        var dx64 = g64.matmul(w) + s * g64.matmul(b).matmul(a);
        var da64 = s * g64.matmul(b).t().matmul(x64);
        double Err(Tensor got, Tensor exact) => (got.to(ScalarType.Float64).reshape(exact.shape) - exact).abs().max().item<double>() / exact.abs().max().item<double>();
        Assert.True(Err(wide.Y, y64) <= Err(narrow.Y, y64) + 4e-3, $"y: wide {Err(wide.Y, y64):E2}, bf16 {Err(narrow.Y, y64):E2}");
        Assert.True(Err(wide.Dx, dx64) <= Err(narrow.Dx, dx64) + 4e-3, $"dx: wide {Err(wide.Dx, dx64):E2}, bf16 {Err(narrow.Dx, dx64):E2}");
        Assert.True(Err(wide.DA, da64) <= 1e-5, $"dA (fp32 from bf16-valued operands): {Err(wide.DA, da64):E2}");
        Assert.True(Err(wide.Y, y64) <= 8e-3, $"y: {Err(wide.Y, y64):E2}");
    }

    [Fact]
    public void Inference_through_a_bf16_linear_is_widened_only_where_autograd_records_nothing()
    {
        var host = Host(41, nf4: false);
        var x = randn(new long[] { 64, 96 }, generator: manual_seed(42)).to(ScalarType.BFloat16);
        var exact = x.to(ScalarType.Float64).matmul(host.weight.to(ScalarType.Float64).t()) + host.bias!.to(ScalarType.Float64);
        Tensor narrow, wide;
        using (new Widening(false)) narrow = host.forward(x);
        using (new Widening(true)) wide = host.forward(x);
        Assert.Equal(ScalarType.BFloat16, wide.dtype);
        double Err(Tensor t) => (t.to(ScalarType.Float64) - exact).abs().max().item<double>();
        Assert.True(Err(wide) <= Err(narrow) + 1e-2, $"wide {Err(wide):E2}, bf16 {Err(narrow):E2}");
        // A recorded product keeps libtorch's own bf16 linear (autograd would otherwise keep fp32 copies).
        var xi = x.detach().requires_grad_(true);
        using (new Widening(true)) Assert.True(host.forward(xi).equal(narrow).all().item<bool>());
    }
}
