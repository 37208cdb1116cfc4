using PeftSharp.Nn.Fused;
using static TorchSharp.torch;

namespace PeftSharp.Nn;

/// <summary>
/// Rotary position embedding in HF's "rotate half" layout (the first and second halves of a head are the pair),
/// with the frequency scalings Llama-family configs use: none, linear, and Llama-3's smooth band scaling.
/// </summary>
public sealed class RotaryEmbedding : IDisposable
{
    readonly Tensor invFreq; // [headDim/2], fp32

    /// <summary>Precomputes the inverse frequencies θ^(−2i/headDim), scaled as HF's rope_scaling asks.</summary>
    /// <param name="headDim">Width of one attention head (even).</param>
    /// <param name="theta">rope_theta (10000 for Llama-2, 500000 for Llama-3).</param>
    /// <param name="scalingType">rope_scaling.rope_type: "default" (none), "linear", or "llama3"; other values mean none.</param>
    /// <param name="factor">rope_scaling.factor; default 1.</param>
    /// <param name="lowFreqFactor">Llama-3 scaling's low_freq_factor; default 1.</param>
    /// <param name="highFreqFactor">Llama-3 scaling's high_freq_factor; default 4.</param>
    /// <param name="originalMaxPositions">Llama-3 scaling's original_max_position_embeddings; default 8192.</param>
    public RotaryEmbedding(int headDim, double theta, string scalingType = "default", double factor = 1.0,
        double lowFreqFactor = 1.0, double highFreqFactor = 4.0, int originalMaxPositions = 8192)
    {
        var freqs = new double[headDim / 2];
        for (int i = 0; i < freqs.Length; i++)
        {
            double f = 1.0 / Math.Pow(theta, 2.0 * i / headDim);
            freqs[i] = scalingType switch
            {
                "linear" => f / factor,
                "llama3" => Llama3Scale(f, factor, lowFreqFactor, highFreqFactor, originalMaxPositions),
                _ => f,
            };
        }
        invFreq = tensor(freqs.Select(f => (float)f).ToArray());
    }

    internal static double Llama3Scale(double f, double factor, double low, double high, int oldContext)
    {
        double lowWavelen = oldContext / low, highWavelen = oldContext / high;
        double wavelen = 2 * Math.PI / f;
        if (wavelen < highWavelen) return f;            // high frequencies: unchanged
        if (wavelen > lowWavelen) return f / factor;    // low frequencies: scaled
        double smooth = (oldContext / wavelen - low) / (high - low);
        return (1 - smooth) * f / factor + smooth * f;
    }

    /// <summary>cos and sin for positions [B, T] (int64), shaped [B, 1, T, headDim] in <paramref name="dtype"/>.</summary>
    public (Tensor Cos, Tensor Sin) CosSin(Tensor positionIds, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var freqs = positionIds.to(ScalarType.Float32).unsqueeze(-1) * invFreq.to(positionIds.device); // [B,T,D/2]
        var emb = cat(new[] { freqs, freqs }, -1).unsqueeze(1);
        var cos = emb.cos().to(dtype).MoveToOuterDisposeScope();
        var sin = emb.sin().to(dtype).MoveToOuterDisposeScope();
        return (cos, sin);
    }

    /// <summary>x * cos + rotate_half(x) * sin, for x shaped [B, H, T, headDim].</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        if (FastPaths.FusedRotary && x.requires_grad && is_grad_enabled()) return RotaryFunction.Apply(x, cos, sin);
        using var scope = NewDisposeScope();
        long half = x.shape[^1] / 2;
        var x1 = x.narrow(-1, 0, half);
        var x2 = x.narrow(-1, half, half);
        var rotated = cat(new[] { -x2, x1 }, -1);
        return (x * cos + rotated * sin).MoveToOuterDisposeScope();
    }

    /// <summary>Frees the inverse-frequency tensor.</summary>
    public void Dispose() => invFreq.Dispose();
}
