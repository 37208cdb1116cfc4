using PeftSharp.Quantization;

namespace PeftSharp.Tests.Quantization;

/// <summary>LLM.int8: row-wise int8 weights and the outlier decomposition.</summary>
public class Int8MatmulTests
{
    [Fact]
    public void Rows_are_scaled_by_their_absmax_and_zero_rows_are_safe()
    {
        using var scope = NewDisposeScope();
        var w = randn(new long[] { 4, 10 }, generator: new Generator().manual_seed(2));
        w[2] = zeros(10);
        using var q = Int8Quantizer.Quantize(w);
        Assert.Equal(w.abs().amax([1]).data<float>().ToArray(), q.SCB.data<float>().ToArray());
        Assert.Equal(127, q.CB.abs().max().item<sbyte>());
        Assert.Equal(0L, q.CB[2].abs().sum().item<long>());
        var back = q.Dequantize();
        Assert.False(back.isnan().any().item<bool>());
        Assert.True((back - w).abs().max().item<float>() <= w.abs().max().item<float>() / 254 * 1.0001);
    }

    /// <summary>Worst case for fp32 accumulation: all products 127², 4096 terms (sum 66M &gt; 2^24).</summary>
    [Fact]
    public void Int8_products_are_accumulated_exactly_beyond_2_pow_24()
    {
        using var scope = NewDisposeScope();
        var a = full(new long[] { 3, 4096 }, 127, ScalarType.Int8);
        a[1] = randint(-127, 128, new long[] { 4096 }, ScalarType.Int8, generator: new Generator().manual_seed(3));
        var b = full(new long[] { 5, 4096 }, 127, ScalarType.Int8);
        b[4] = randint(-127, 128, new long[] { 4096 }, ScalarType.Int8, generator: new Generator().manual_seed(4));
        var exact = a.to(ScalarType.Float64).matmul(b.to(ScalarType.Float64).t()).to(ScalarType.Int32);
        Assert.True(Int8Quantizer.ExactInt8Matmul(a, b).equal(exact).all().item<bool>());
        Assert.Equal(4096 * 127 * 127, exact[0, 0].item<int>());
    }

    static (Tensor X, Tensor W) OutlierProblem()
    {
        var x = randn(new long[] { 64, 1024 }, generator: new Generator().manual_seed(10));
        var magnitudes = rand(new long[] { 64, 3 }, generator: new Generator().manual_seed(11)) * 40 + 20; // 20..60
        var signs = randint(0, 2, new long[] { 64, 3 }, generator: new Generator().manual_seed(12)) * 2 - 1;
        x.index_copy_(1, tensor(new long[] { 7, 100, 201 }), magnitudes * signs);
        var w = randn(new long[] { 128, 1024 }, generator: new Generator().manual_seed(13)) * 0.05;
        return (x, w);
    }

    /// <summary>
    /// The decomposition fixes the activation side: against x @ dequant(W)^T (the same int8 weights in fp32) it must be
    /// ≥ 10x more accurate than plain int8. Against the original fp32 weights both also carry the int8 weight error,
    /// which the 20..60 outliers amplify (bnb multiplies outlier columns by the dequantized int8 weight too), so
    /// there the gain is smaller; it is printed and must still be ≥ 3x.
    /// </summary>
    [Fact]
    public void Outlier_decomposition_is_at_least_10x_more_accurate_than_plain_int8()
    {
        using var scope = NewDisposeScope();
        var (x, w) = OutlierProblem();
        using var q = Int8Quantizer.Quantize(w);
        var sameWeights = x.matmul(q.Dequantize().t());
        var original = x.matmul(w.t());
        double Rms(Tensor a, Tensor b) => (a - b).square().mean().sqrt().item<float>();
        var decomposed = Int8Quantizer.Int8Matmul(x, q, 6.0);
        var plain = Int8Quantizer.Int8Matmul(x, q, 0);
        double dSame = Rms(decomposed, sameWeights), pSame = Rms(plain, sameWeights);
        double dOrig = Rms(decomposed, original), pOrig = Rms(plain, original);
        TestContext.Current.TestOutputHelper?.WriteLine($"RMS error vs fp32 with the int8 weights dequantized: threshold 6 {dSame:E3}, plain {pSame:E3} ({pSame / dSame:F1}x)");
        TestContext.Current.TestOutputHelper?.WriteLine($"RMS error vs fp32 with the original weights: threshold 6 {dOrig:E3}, plain {pOrig:E3} ({pOrig / dOrig:F1}x)");
        Assert.True(dSame * 10 <= pSame, $"threshold 6: {dSame}, plain: {pSame}");
        Assert.True(dOrig * 3 <= pOrig, $"threshold 6: {dOrig}, plain: {pOrig}");
    }

    [Fact]
    public void Threshold_zero_equals_the_plain_int8_reference_exactly_and_keeps_dtype_and_shape()
    {
        using var scope = NewDisposeScope();
        var (x, w) = OutlierProblem();
        using var q = Int8Quantizer.Quantize(w);
        // Plain int8 written out: row absmax of x, round(x * 127 / absmax), exact integer GEMM in fp64, rescale.
        var sx = x.abs().amax([1]);
        var xq = (x * 127f / sx.unsqueeze(1)).round();
        var acc = xq.to(ScalarType.Float64).matmul(q.CB.to(ScalarType.Float64).t()).to(ScalarType.Int32);
        var reference = acc.to(ScalarType.Float32) * sx.unsqueeze(1) * q.SCB.unsqueeze(0) * (1f / (127f * 127f));
        var actual = Int8Quantizer.Int8Matmul(x, q, 0);
        Assert.True(actual.equal(reference).all().item<bool>());

        var batched = Int8Quantizer.Int8Matmul(x.reshape(4, 16, 1024).to(ScalarType.BFloat16), q);
        Assert.Equal([4L, 16L, 128L], batched.shape);
        Assert.Equal(ScalarType.BFloat16, batched.dtype);
    }
}
