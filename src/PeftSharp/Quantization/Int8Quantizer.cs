using static TorchSharp.torch;

namespace PeftSharp.Quantization;

/// <summary>
/// LLM.int8 (bitsandbytes): row-wise absmax int8 weights, and a matmul that keeps outlier input columns
/// (any |x| ≥ threshold) in fp32 while the rest runs as int8 × int8 with exact integer accumulation.
/// </summary>
public static class Int8Quantizer
{
    /// <summary>
    /// The outlier threshold of LLM.int8, as bitsandbytes' and transformers' llm_int8_threshold default (6.0): input
    /// columns holding any |x| at or above it run in fp32.
    /// </summary>
    public const double DefaultThreshold = 6.0;

    /// <summary>
    /// fp32 accumulates integers exactly while every partial sum stays below 2^24; with |products| ≤ 127² that holds
    /// for up to 1040 terms, so the inner dimension is processed in slices of at most this many columns.
    /// </summary>
    public const int ExactSliceColumns = (1 << 24) / (127 * 127);

    /// <summary>SCB = max|W| per row (fp32); CB = round(W * 127 / SCB) (half to even); all-zero rows give CB 0, SCB 0.</summary>
    public static Int8Weight Quantize(Tensor weight)
    {
        if (weight.dim() != 2) throw new ArgumentException($"weight must be [out, in], is [{string.Join(", ", weight.shape)}]", nameof(weight));
        using var scope = NewDisposeScope();
        var w = weight.detach().to(ScalarType.Float32, CPU);
        var (cb, scb) = QuantizeRows(w);
        return new Int8Weight(cb.MoveToOuterDisposeScope(), scb.MoveToOuterDisposeScope());
    }

    /// <summary>Row-wise absmax int8 quantization of fp32 [rows, cols]: (int8 values, fp32 row absmax).</summary>
    public static (Tensor Quantized, Tensor RowAbsmax) QuantizeRows(Tensor x)
    {
        using var scope = NewDisposeScope();
        var absmax = x.abs().amax([1]);
        var divisor = where(absmax == 0, ones_like(absmax), absmax).unsqueeze(1);
        var q = (x * 127f / divisor).round().clamp(-127, 127).to(ScalarType.Int8);
        return (q.MoveToOuterDisposeScope(), absmax.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// x [*, in] @ W^T with LLM.int8's mixed-precision decomposition. threshold 0 disables outliers (plain int8).
    /// Returns [*, out] in x's dtype.
    /// </summary>
    public static Tensor Int8Matmul(Tensor x, Int8Weight weight, double threshold = DefaultThreshold)
    {
        long inFeatures = weight.InFeatures;
        if (x.shape[^1] != inFeatures) throw new ArgumentException($"x has {x.shape[^1]} features, the weight {inFeatures}", nameof(x));
        if (threshold < 0) throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "threshold must be ≥ 0 (0 = no outliers)");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        long[] outShape = [.. x.shape[..^1], weight.OutFeatures];
        var x2 = x.detach().to(ScalarType.Float32, CPU).reshape(-1, inFeatures);
        Tensor? outlierPart = null;
        if (threshold > 0)
        {
            var cols = (x2.abs() >= threshold).any(0).nonzero().reshape(-1);
            if (cols.numel() > 0)
            {
                var wCols = weight.CB.index_select(1, cols).to(ScalarType.Float32) * (weight.SCB / 127f).unsqueeze(1);
                outlierPart = x2.index_select(1, cols).matmul(wCols.t());
                x2 = x2.index_fill(1, cols, 0); // those columns contribute only through the fp32 part
            }
        }
        var (xq, scaleX) = QuantizeRows(x2);
        var acc = ExactInt8Matmul(xq, weight.CB);
        var result = Rescale(acc, scaleX, weight.SCB);
        if (outlierPart is not null) result = result + outlierPart;
        return result.reshape(outShape).to(x.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>int8 [m, k] × int8 [n, k]^T → int32 [m, n], exact: fp32 GEMMs over column slices that cannot round.</summary>
    public static Tensor ExactInt8Matmul(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        long k = a.shape[1];
        Tensor? acc = null;
        for (long start = 0; start < k || acc is null; start += ExactSliceColumns)
        {
            long width = Math.Min(ExactSliceColumns, k - start);
            var partial = a.narrow(1, start, width).to(ScalarType.Float32).matmul(b.narrow(1, start, width).to(ScalarType.Float32).t());
            var exact = partial.to(ScalarType.Int32);
            acc = acc is null ? exact : acc.add_(exact);
        }
        return acc.MoveToOuterDisposeScope();
    }

    /// <summary>bnb's int8_mm_dequant: acc * scaleX (per row of x) * SCB (per row of W) / 127².</summary>
    public static Tensor Rescale(Tensor acc, Tensor scaleX, Tensor scb)
    {
        using var scope = NewDisposeScope();
        var result = acc.to(ScalarType.Float32) * scaleX.unsqueeze(1) * scb.unsqueeze(0) * (1f / (127f * 127f));
        return result.MoveToOuterDisposeScope();
    }
}
