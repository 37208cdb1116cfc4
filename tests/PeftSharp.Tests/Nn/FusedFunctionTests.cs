using PeftSharp.Adapters.Lora;
using PeftSharp.Models.Llama;
using PeftSharp.Nn;
using PeftSharp.Nn.Fused;
using PeftSharp.Peft;
using PeftSharp.Quantization;
using PeftSharp.Tests.Peft;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Nn;

/// <summary>
/// The fused RMSNorm, SwiGLU and rotary functions against the plain torch ops they replace: forward, gradients, finite
/// differences in fp64, and a whole tiny Llama with every switch on vs off. The tests flip process-wide switches
/// (<see cref="FastPaths"/>, <see cref="SwiGluKernel.Isa"/>), so they run alone.
/// </summary>
[Collection(GlobalRngCollection.Name)]
public class FusedFunctionTests
{
    const ScalarType BF16 = ScalarType.BFloat16, F32 = ScalarType.Float32, F64 = ScalarType.Float64;

    /// <summary>Output and input gradients of f for upstream gradient <paramref name="upstream"/>, on fresh leaves.</summary>
    static (Tensor Y, Tensor?[] Grads) Run(Func<Tensor[], Tensor> f, Tensor upstream, params Tensor[] inputs)
    {
        var leaves = inputs.Select(t => t.detach().clone().requires_grad_(true)).ToArray();
        var y = f(leaves);
        y.backward(new[] { upstream.to(y.dtype) });
        return (y.detach(), leaves.Select(l => l.grad?.detach().clone()).ToArray());
    }

    /// <summary>max |a − b| ≤ tol · max |b| (max |b| at least 1e-3), computed in fp64.</summary>
    static void AssertScaledClose(Tensor a, Tensor b, double tol, string what)
    {
        double diff = LoraTestKit.MaxDiff(a, b), scale = Math.Max(1e-3, b.to(F64).abs().max().item<double>());
        Assert.True(diff <= tol * scale, $"{what}: max diff {diff:E3} > {tol} x {scale:E3}");
    }

    /// <summary>Central finite differences of (f(inputs)·r).sum() at a few entries of each listed fp64 input.</summary>
    static void AssertFiniteDifferences(Func<Tensor[], Tensor> f, int[] which, params Tensor[] inputs)
    {
        const double H = 1e-6;
        var leaves = inputs.Select(t => t.detach().contiguous().clone().requires_grad_(true)).ToArray();
        using var gen = new Generator().manual_seed(5);
        var r = randn(f(leaves).shape, F64, generator: gen);
        double Loss() { using var _ = no_grad(); return (f(leaves) * r).sum().item<double>(); }
        (f(leaves) * r).sum().backward();
        foreach (int i in which)
        {
            var flat = leaves[i].detach().view(-1);
            var grad = leaves[i].grad!.view(-1);
            foreach (long k in new long[] { 0, flat.shape[0] / 3, flat.shape[0] / 2 + 1, flat.shape[0] - 1 })
            {
                double x0 = flat[k].item<double>();
                flat[k].fill_(x0 + H);
                double plus = Loss();
                flat[k].fill_(x0 - H);
                double minus = Loss();
                flat[k].fill_(x0);
                double fd = (plus - minus) / (2 * H), analytic = grad[k].item<double>();
                Assert.True(Math.Abs(fd - analytic) <= 1e-6 + 1e-6 * Math.Abs(fd), $"input {i}[{k}]: analytic {analytic:E8}, finite difference {fd:E8}");
            }
        }
    }

    static Tensor Randn(long[] shape, ScalarType dtype, long seed, double scale = 1)
    {
        using var gen = new Generator().manual_seed(seed);
        return (randn(shape, F64, generator: gen) * scale).to(dtype);
    }

    static bool Bitwise(Tensor a, Tensor b) =>
        a.dtype == b.dtype && a.shape.SequenceEqual(b.shape) && a.detach().contiguous().bytes.SequenceEqual(b.detach().contiguous().bytes);

    // ---- RMSNorm ----

    static RmsNorm Norm(int size, ScalarType dtype, bool trainable)
    {
        var norm = new RmsNorm(size, 1e-6, dtype);
        using (no_grad()) norm.weight.copy_(Randn(new long[] { size }, F64, 3, 0.1) + 1);
        norm.weight.requires_grad_(trainable);
        return norm;
    }

    [Theory]
    [InlineData(ScalarType.BFloat16, ScalarType.BFloat16)]
    [InlineData(ScalarType.Float32, ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16, ScalarType.Float32)]
    [InlineData(ScalarType.Float64, ScalarType.Float64)]
    public void RmsNorm_forward_is_bitwise_the_plain_modules(ScalarType xType, ScalarType weightType)
    {
        var norm = Norm(48, weightType, trainable: false);
        var x = Randn(new long[] { 3, 5, 48 }, xType, 1, 2).requires_grad_(true);
        Tensor plain, fused;
        using (FastPaths.All(false)) plain = norm.forward(x);
        using (FastPaths.All(true)) fused = norm.forward(x);
        Assert.Equal(plain.dtype, fused.dtype);
        Assert.True(Bitwise(plain, fused), $"max diff {LoraTestKit.MaxDiff(plain, fused):E3}");
        Assert.True(Bitwise(plain, RmsNormFunction.Apply(x, norm.weight, 1e-6)));
    }

    [Theory]
    [InlineData(ScalarType.Float32, false, 1e-5)]
    [InlineData(ScalarType.Float32, true, 1e-5)]
    [InlineData(ScalarType.BFloat16, false, 2e-2)]
    [InlineData(ScalarType.BFloat16, true, 2e-2)]
    public void RmsNorm_gradients_equal_the_plain_autograd_ones(ScalarType dtype, bool trainableWeight, double tol)
    {
        var norm = Norm(64, dtype, trainableWeight);
        var x = Randn(new long[] { 2, 7, 64 }, dtype, 2, 3);
        var g = Randn(new long[] { 2, 7, 64 }, dtype, 4);
        (Tensor? Dx, Tensor? Dw) Grads(bool on)
        {
            using var _ = FastPaths.All(on);
            norm.weight.grad?.zero_();
            var (_, grads) = Run(v => norm.forward(v[0]), g, x);
            return (grads[0], norm.weight.grad?.clone());
        }
        var plain = Grads(false);
        var fused = Grads(true);
        AssertScaledClose(fused.Dx!, plain.Dx!, tol, "dx");
        Assert.Equal(dtype, fused.Dx!.dtype);
        if (trainableWeight) AssertScaledClose(fused.Dw!, plain.Dw!, tol, "dweight");
        else Assert.Null(fused.Dw);
    }

    [Fact]
    public void RmsNorm_gradients_match_finite_differences_in_fp64()
    {
        var x = Randn(new long[] { 2, 3, 16 }, F64, 6, 2);
        var w = Randn(new long[] { 16 }, F64, 7, 0.1) + 1;
        AssertFiniteDifferences(v => RmsNormFunction.Apply(v[0], v[1], 1e-6), new[] { 0, 1 }, x, w);
    }

    // ---- SwiGLU ----

    public static TheoryData<ScalarType, KernelIsa> SwiGluCases() => new()
    {
        { BF16, KernelIsa.Auto }, { BF16, KernelIsa.Vector256 }, { BF16, KernelIsa.Scalar },
        { F32, KernelIsa.Auto }, { F32, KernelIsa.Vector256 }, { F32, KernelIsa.Scalar },
    };

    static IDisposable SwiGluIsa(KernelIsa isa)
    {
        Assert.SkipUnless(KernelIsas.IsSupported(isa), $"{isa} is not supported on this CPU");
        var saved = SwiGluKernel.Isa;
        SwiGluKernel.Isa = isa;
        return new Restore(() => SwiGluKernel.Isa = saved);
    }

    sealed class Restore(Action undo) : IDisposable
    {
        public void Dispose() => undo();
    }

    /// <summary>Shapes with a tail shorter than one SIMD step, and one large enough to run in parallel chunks.</summary>
    static readonly long[][] SwiGluShapes = { new long[] { 3, 37, 41 }, new long[] { 3, 100003 } };

    [Theory]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float32)]
    public void SwiGlu_forward_is_bitwise_the_plain_ops(ScalarType dtype)
    {
        var gate = Randn(new long[] { 3, 37, 41 }, dtype, 1, 4).requires_grad_(true);
        var up = Randn(new long[] { 3, 37, 41 }, dtype, 2).requires_grad_(true);
        Tensor plain, fused;
        using (FastPaths.All(false)) plain = LlamaMlp.Activation(gate, up);
        using (FastPaths.All(true)) fused = LlamaMlp.Activation(gate, up);
        Assert.True(Bitwise(plain, fused), $"max diff {LoraTestKit.MaxDiff(plain, fused):E3}");
        Assert.True(Bitwise(plain, SwiGluFunction.Apply(gate, up)));
    }

    [Theory]
    [MemberData(nameof(SwiGluCases))]
    public void SwiGlu_gradients_equal_the_plain_autograd_ones(ScalarType dtype, KernelIsa isa)
    {
        using var _ = SwiGluIsa(isa);
        foreach (var shape in SwiGluShapes)
        {
            var gate = Randn(shape, dtype, 3, 4);
            gate.view(-1)[0].fill_(90);  // beyond the exponential's clamp
            gate.view(-1)[1].fill_(-90);
            var up = Randn(shape, dtype, 4);
            var g = Randn(shape, dtype, 5);
            var (_, plain) = Run(v => nn.functional.silu(v[0]) * v[1], g, gate, up);
            var (_, fused) = Run(v => SwiGluFunction.Apply(v[0], v[1]), g, gate, up);
            double tol = dtype == BF16 ? 2e-2 : 1e-5;
            AssertScaledClose(fused[0]!, plain[0]!, tol, "d_gate");
            AssertScaledClose(fused[1]!, plain[1]!, tol, "d_up");
            Assert.Equal(dtype, fused[0]!.dtype);
        }
    }

    [Theory]
    [InlineData(KernelIsa.Auto)]
    [InlineData(KernelIsa.Vector256)]
    public void SwiGlu_bf16_kernel_gradients_are_its_fp32_ones_rounded_as_torch_rounds(KernelIsa isa)
    {
        using var _ = SwiGluIsa(isa);
        var shape = new long[] { 5, 1003 };
        Tensor gate = Randn(shape, BF16, 12, 4), up = Randn(shape, BF16, 13), g = Randn(shape, BF16, 14);
        var (_, bf16) = Run(v => SwiGluFunction.Apply(v[0], v[1]), g, gate, up);
        var (_, fp32) = Run(v => SwiGluFunction.Apply(v[0], v[1]), g.to(F32), gate.to(F32), up.to(F32));
        Assert.True(Bitwise(bf16[0]!, fp32[0]!.to(BF16)), "d_gate");
        Assert.True(Bitwise(bf16[1]!, fp32[1]!.to(BF16)), "d_up");
    }

    [Fact]
    public void SwiGlu_gives_no_gradient_to_an_input_that_needs_none()
    {
        var gate = Randn(new long[] { 4, 40 }, F32, 6).requires_grad_(true);
        var up = Randn(new long[] { 4, 40 }, F32, 7);
        SwiGluFunction.Apply(gate, up).sum().backward();
        Assert.NotNull(gate.grad);
        Assert.Null(up.grad);
    }

    [Fact]
    public void SwiGlu_gradients_match_finite_differences_in_fp64()
    {
        var gate = Randn(new long[] { 3, 10 }, F64, 8, 3);
        var up = Randn(new long[] { 3, 10 }, F64, 9);
        AssertFiniteDifferences(v => SwiGluFunction.Apply(v[0], v[1]), new[] { 0, 1 }, gate, up);
    }

    // ---- Rotary ----

    /// <summary>q as the attention makes it: [B, H, T, D] transposed from [B, T, H, D]; cos/sin [B, 1, T, D].</summary>
    static (Tensor Q, Tensor Cos, Tensor Sin) RotaryInputs(ScalarType dtype, long seed)
    {
        using var rope = new RotaryEmbedding(8, 10000);
        var (cos, sin) = rope.CosSin(arange(6).unsqueeze(0).expand(2, -1) + 3, dtype);
        return (Randn(new long[] { 2, 6, 4, 8 }, dtype, seed, 2).transpose(1, 2), cos, sin);
    }

    [Theory]
    [InlineData(ScalarType.BFloat16, 1e-2)]
    [InlineData(ScalarType.Float32, 1e-6)]
    [InlineData(ScalarType.Float64, 1e-14)]
    public void Rotary_forward_is_bitwise_and_gradient_equal_to_the_plain_ops(ScalarType dtype, double tol)
    {
        var (q, cos, sin) = RotaryInputs(dtype, 10);
        var g = Randn(q.shape, dtype, 11);
        (Tensor Y, Tensor?[] Grads) Rotate(bool fusedPath)
        {
            using var _ = FastPaths.All(fusedPath);
            return Run(v => RotaryEmbedding.Apply(v[0], cos, sin), g, q);
        }
        var plain = Rotate(false);
        var fused = Rotate(true);
        Assert.True(Bitwise(fused.Y, plain.Y), $"forward: max diff {LoraTestKit.MaxDiff(fused.Y, plain.Y):E3}");
        // g1·c + g2·s cancels, so the rounding differences are relative to the operands: compare on the tensor's scale.
        AssertScaledClose(fused.Grads[0]!, plain.Grads[0]!, tol, "dx");
        Assert.Equal(dtype, fused.Grads[0]!.dtype);
        Assert.True(cos.grad is null && sin.grad is null);
    }

    [Fact]
    public void Rotary_gradient_matches_finite_differences_in_fp64()
    {
        var (q, cos, sin) = RotaryInputs(F64, 12);
        AssertFiniteDifferences(v => RotaryFunction.Apply(v[0], cos, sin), new[] { 0 }, q);
    }

    // ---- Lifetimes ----

    [Fact]
    public void Fused_functions_leave_no_live_tensors_in_the_callers_dispose_scope()
    {
        // What they save, unpack and return must not be kept alive until a training step's scope ends.
        var x = Randn(new long[] { 2, 6, 4, 8 }, F32, 15).requires_grad_(true);
        var w = Randn(new long[] { 8 }, F32, 16).requires_grad_(true);
        var g = Randn(new long[] { 2, 6, 4, 8 }, F32, 17);
        var (_, cos, sin) = RotaryInputs(F32, 18);
        Tensor up = w.expand_as(x), cosT = cos.transpose(1, 2), sinT = sin.transpose(1, 2);
        var mine = new List<Tensor>();
        using (var scope = NewDisposeScope())
        {
            foreach (var f in new Func<Tensor>[] { () => RmsNormFunction.Apply(x, w, 1e-6), () => SwiGluFunction.Apply(x, up), () => RotaryFunction.Apply(x, cosT, sinT) })
            {
                var y = f();
                y.backward(new[] { g });
                mine.Add(y);
            }
            var live = scope.DisposablesView.OfType<Tensor>().Where(t => !t.IsInvalid && !mine.Any(m => ReferenceEquals(m, t))).ToList();
            Assert.True(live.Count == 0, $"live in the scope: {string.Join("; ", live.Select(t => $"[{string.Join(", ", t.shape)}] {t.dtype}"))}");
        }
    }

    // ---- A whole model ----

    [Theory]
    [InlineData(false, ScalarType.Float32)]
    [InlineData(true, ScalarType.Float32)]
    [InlineData(false, ScalarType.BFloat16)]
    [InlineData(true, ScalarType.BFloat16)]
    public void Tiny_llama_loss_and_lora_gradients_are_the_same_with_the_fused_paths(bool checkpointing, ScalarType dtype)
    {
        (float Loss, Dictionary<string, Tensor> Grads) Train(bool fused, ScalarType dtype)
        {
            using var _ = FastPaths.All(fused);
            // Heads wide enough for the blockwise attention path (FastPaths.BlockwiseAttentionMinHeadDim).
            var model = TinyModels.Random(TinyModels.Config() with { HeadDim = 32 }, seed: 21, dtype);
            PeftModel.Create(model, new LoraConfig { R = 4, LoraAlpha = 8, TargetRegex = LoraConfig.AllLinear, InitLoraWeights = "false" }, seed: 3);
            model.model.GradientCheckpointing = checkpointing;
            var loss = LoraTestKit.Loss(model, LoraTestKit.Ids());
            loss.backward();
            var grads = model.named_parameters().Where(p => p.parameter.requires_grad)
                .ToDictionary(p => p.name, p => p.parameter.grad!.detach().clone());
            return (loss.to(F32).item<float>(), grads);
        }
        var plain = Train(false, dtype);
        var fused = Train(true, dtype);
        Assert.Equal(plain.Grads.Keys.Order(), fused.Grads.Keys.Order());
        Assert.Equal(2 * 7 * 2, plain.Grads.Count); // lora_A and lora_B of the 7 linears of 2 layers
        Assert.Contains(plain.Grads, kv => !Bitwise(kv.Value, fused.Grads[kv.Key])); // the fused backwards did run
        if (dtype != BF16)
        {
            Assert.True(Math.Abs(plain.Loss - fused.Loss) <= 1e-6 * Math.Abs(plain.Loss), $"loss {plain.Loss} vs {fused.Loss}");
            foreach (var (name, g) in plain.Grads) AssertScaledClose(fused.Grads[name], g, 1e-5, name);
            return;
        }
        // bf16: both paths round (differently: the fused ones keep fp32 where the plain ones round to bf16, the fused
        // LoRA runs its adapter path in bf16 as under autocast). Judge both against the fp32 model: the fused path must
        // be about as accurate as the plain one.
        var exact = Train(false, F32);
        double Error(Dictionary<string, Tensor> grads) => grads.Max(kv =>
            LoraTestKit.MaxDiff(kv.Value, exact.Grads[kv.Key]) / Math.Max(1e-3, exact.Grads[kv.Key].abs().max().item<float>()));
        double plainError = Error(plain.Grads), fusedError = Error(fused.Grads);
        Assert.True(fusedError <= 2 * plainError + 1e-3, $"bf16 gradient error vs fp32: fused {fusedError:E2}, plain {plainError:E2}");
        Assert.True(Math.Abs(fused.Loss - exact.Loss) <= 1e-2 * Math.Abs(exact.Loss), $"bf16 fused loss {fused.Loss} vs fp32 {exact.Loss}");
    }
}
