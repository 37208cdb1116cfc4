using PeftSharp.Nn;
using PeftSharp.Nn.Fused;

namespace PeftSharp.Tests.Nn;

/// <summary>Blockwise attention (own backward) against libtorch's SDPA with K/V repeated per head, the path it replaces.</summary>
public class BlockwiseAttentionTests
{
    static (Tensor Y, Tensor Dq, Tensor Dk, Tensor Dv) Run(Tensor q, Tensor k, Tensor v, Tensor? mask, Tensor up, bool blockwise)
    {
        var (qi, ki, vi) = (q.detach().requires_grad_(true), k.detach().requires_grad_(true), v.detach().requires_grad_(true));
        Tensor y;
        if (blockwise) y = BlockwiseAttentionFunction.Apply(qi, ki, vi, mask);
        else
        {
            long rep = q.shape[1] / k.shape[1];
            y = nn.functional.scaled_dot_product_attention(qi, ki.repeat_interleave(rep, 1), vi.repeat_interleave(rep, 1), mask, 0.0, mask is null);
        }
        y.backward(new[] { up });
        return (y.detach(), qi.grad!, ki.grad!, vi.grad!);
    }

    static void Close(Tensor a, Tensor b, double tol, string what)
    {
        double err = (a.to(ScalarType.Float64) - b.to(ScalarType.Float64)).abs().max().item<double>();
        Assert.True(err <= tol, $"{what}: max error {err:E3}");
    }

    [Theory]
    [InlineData(1, 4, 4, 16, 8)]    // MHA, one partial block
    [InlineData(2, 6, 2, 200, 16)]  // GQA 3:1, two blocks, the second partial
    [InlineData(1, 4, 1, 300, 8)]   // MQA, three blocks
    public void Equals_sdpa_in_output_and_gradients(int batch, int heads, int kvHeads, int t, int d)
    {
        var g = manual_seed(t);
        var q = randn(new long[] { batch, heads, t, d }, generator: g);
        var k = randn(new long[] { batch, kvHeads, t, d }, generator: g);
        var v = randn(new long[] { batch, kvHeads, t, d }, generator: g);
        var up = randn(new long[] { batch, heads, t, d }, generator: g);
        var expected = Run(q, k, v, null, up, blockwise: false);
        var actual = Run(q, k, v, null, up, blockwise: true);
        Close(expected.Y, actual.Y, 1e-5, "output");
        Close(expected.Dq, actual.Dq, 1e-4, "dq");
        Close(expected.Dk, actual.Dk, 1e-4, "dk");
        Close(expected.Dv, actual.Dv, 1e-4, "dv");
    }

    [Fact]
    public void Padding_and_packing_masks_give_sdpa_results()
    {
        var g = manual_seed(5);
        const int t = 150;
        var q = randn(new long[] { 2, 4, t, 8 }, generator: g);
        var k = randn(new long[] { 2, 2, t, 8 }, generator: g);
        var v = randn(new long[] { 2, 2, t, 8 }, generator: g);
        var up = randn(new long[] { 2, 4, t, 8 }, generator: g);
        var padding = ones(2, t, ScalarType.Int64);
        padding[0, TensorIndex.Slice(0, 20)] = 0; // left padding in row 0
        var seqIds = cat(new[] { zeros(1, 70, ScalarType.Int64), ones(1, 60, ScalarType.Int64), full(1, 20, -1L, ScalarType.Int64) }, 1).expand(2, -1);
        foreach (var mask in new[] { AttentionMask.Build(t, 0, padding, q.device)!, AttentionMask.BuildPacked(seqIds.contiguous()) })
        {
            var expected = Run(q, k, v, mask, up, blockwise: false);
            var actual = Run(q, k, v, mask, up, blockwise: true);
            Close(expected.Y, actual.Y, 1e-5, "output");
            Close(expected.Dq, actual.Dq, 1e-4, "dq");
            Close(expected.Dk, actual.Dk, 1e-4, "dk");
            Close(expected.Dv, actual.Dv, 1e-4, "dv");
        }
    }

    [Fact]
    public void Bf16_is_within_bf16_round_off_of_fp32()
    {
        var g = manual_seed(9);
        var q = randn(new long[] { 1, 6, 260, 16 }, generator: g);
        var k = randn(new long[] { 1, 2, 260, 16 }, generator: g);
        var v = randn(new long[] { 1, 2, 260, 16 }, generator: g);
        var up = randn(new long[] { 1, 6, 260, 16 }, generator: g);
        var exact = Run(q, k, v, null, up, blockwise: true);
        var bf = Run(q.to(ScalarType.BFloat16), k.to(ScalarType.BFloat16), v.to(ScalarType.BFloat16), null, up.to(ScalarType.BFloat16), blockwise: true);
        Assert.Equal(ScalarType.BFloat16, bf.Dk.dtype);
        Close(exact.Y, bf.Y, 0.05, "output");
        Close(exact.Dq, bf.Dq, 0.1, "dq");
        Close(exact.Dv, bf.Dv, 0.1, "dv");
    }

    [Fact]
    public void Gradients_match_finite_differences_in_fp64()
    {
        var g = manual_seed(3);
        var q = randn(new long[] { 1, 2, 140, 4 }, ScalarType.Float64, generator: g).requires_grad_(true);
        var k = randn(new long[] { 1, 1, 140, 4 }, ScalarType.Float64, generator: g).requires_grad_(true);
        var v = randn(new long[] { 1, 1, 140, 4 }, ScalarType.Float64, generator: g).requires_grad_(true);
        var w = randn(new long[] { 1, 2, 140, 4 }, ScalarType.Float64, generator: g);
        (BlockwiseAttentionFunction.Apply(q, k, v, null) * w).sum().backward();
        double Loss() { using var _ = no_grad(); return (BlockwiseAttentionFunction.Apply(q, k, v, null) * w).sum().item<double>(); }
        foreach (var (p, name) in new[] { (q, "q"), (k, "k"), (v, "v") })
            foreach (long i in new long[] { 0, 130, 333, p.numel() - 1 })
            {
                var flat = p.view(-1);
                using (no_grad()) flat[i].add_(1e-6);
                double plus = Loss();
                using (no_grad()) flat[i].sub_(2e-6);
                double minus = Loss();
                using (no_grad()) flat[i].add_(1e-6);
                double fd = (plus - minus) / 2e-6, analytic = p.grad!.view(-1)[i].item<double>();
                Assert.True(Math.Abs(fd - analytic) < 1e-6, $"{name}[{i}]: analytic {analytic} vs fd {fd}");
            }
    }

    [Fact]
    public void Refuses_shapes_it_cannot_compute_with_a_clear_message()
    {
        var q = randn(1, 3, 8, 4);
        var ex = Assert.Throws<PeftSharpException>(() => BlockwiseAttentionFunction.Apply(q, randn(1, 2, 8, 4), randn(1, 2, 8, 4), null));
        Assert.Contains("multiple of KV", ex.Message);
        var ex2 = Assert.Throws<PeftSharpException>(() => BlockwiseAttentionFunction.Apply(q, randn(1, 1, 8, 4), randn(1, 1, 8, 4), ones(1, 1, 8, 8)));
        Assert.Contains("boolean", ex2.Message);
    }
}
