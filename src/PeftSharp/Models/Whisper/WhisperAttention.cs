using PeftSharp.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Models.Whisper;

#pragma warning disable IDE1006 // fields carry the checkpoint's names so state_dict keys equal HF keys

/// <summary>
/// Whisper's multi-head attention (HF's WhisperAttention): q, v and out projections with bias, k without. HF scales q
/// by head_dim^-0.5 before q·kᵀ; scaled_dot_product_attention applies the same factor to q·kᵀ, which is equal.
/// Used as encoder self-attention (no mask), decoder self-attention (causal, with a growing KV cache) and decoder
/// cross-attention (keys/values from the encoder output, computed once per clip when a cache is given).
/// </summary>
public sealed class WhisperAttention : nn.Module
{
    /// <summary>Query projection d_model -> d_model with bias (HF's q_proj; a usual LoRA target).</summary>
    public Linear q_proj;
    /// <summary>Key projection d_model -> d_model without bias, as in Whisper (HF's k_proj).</summary>
    public Linear k_proj;
    /// <summary>Value projection d_model -> d_model with bias (HF's v_proj; a usual LoRA target).</summary>
    public Linear v_proj;
    /// <summary>Output projection d_model -> d_model with bias (HF's out_proj).</summary>
    public Linear out_proj;
    readonly int heads, headDim;

    /// <summary>
    /// Creates the attention block with parameters of <paramref name="dtype"/>, not initialised until loaded.
    /// </summary>
    /// <param name="name">Module name (self_attn or encoder_attn), as in the checkpoint keys.</param>
    /// <param name="dModel">Model width (d_model); must be divisible by <paramref name="heads"/>.</param>
    /// <param name="heads">Number of attention heads.</param>
    /// <param name="dtype">Parameter dtype.</param>
    public WhisperAttention(string name, int dModel, int heads, ScalarType dtype) : base(name)
    {
        this.heads = heads;
        headDim = dModel / heads;
        q_proj = new Linear(dModel, dModel, true, dtype);
        k_proj = new Linear(dModel, dModel, false, dtype);
        v_proj = new Linear(dModel, dModel, true, dtype);
        out_proj = new Linear(dModel, dModel, true, dtype);
        RegisterComponents();
    }

    /// <summary>Number of attention heads.</summary>
    public int Heads => heads;
    /// <summary>Width of one head: d_model / heads (64 in every released Whisper size).</summary>
    public int HeadDim => headDim;

    /// <summary>
    /// Self-attention over <paramref name="x"/> [B, T, d]. With <paramref name="causal"/>, query i sees keys up to i
    /// (after the cache's past positions); <paramref name="cache"/> stores this layer's new keys/values.
    /// </summary>
    public Tensor SelfAttention(Tensor x, bool causal, KvCache? cache = null, int layerIndex = 0)
    {
        using var scope = NewDisposeScope();
        var q = SplitHeads(q_proj.forward(x));
        var k = SplitHeads(k_proj.forward(x));
        var v = SplitHeads(v_proj.forward(x));
        long t = x.shape[1], past = cache?.Length ?? 0;
        if (cache is not null) (k, v) = cache.Append(layerIndex, k, v);
        // Several new tokens after cached ones need an explicit mask; otherwise is_causal (or nothing, for one query) is exact.
        var mask = causal ? AttentionMask.Build(t, past, null, x.device) : null;
        var attn = nn.functional.scaled_dot_product_attention(q, k, v, mask, 0.0, causal && mask is null && t > 1);
        return out_proj.forward(MergeHeads(attn)).MoveToOuterDisposeScope();
    }

    /// <summary>Cross-attention of <paramref name="x"/> [B, T, d] over the encoder output [B, S, d].</summary>
    public Tensor CrossAttention(Tensor x, Tensor encoderHidden, WhisperDecoderCache? cache = null, int layerIndex = 0)
    {
        using var scope = NewDisposeScope();
        var q = SplitHeads(q_proj.forward(x));
        (Tensor k, Tensor v) = cache is null
            ? CrossKeysValues(encoderHidden)
            : cache.CrossKeysValues(layerIndex, () => CrossKeysValues(encoderHidden));
        var attn = nn.functional.scaled_dot_product_attention(q, k, v, null, 0.0, false);
        return out_proj.forward(MergeHeads(attn)).MoveToOuterDisposeScope();
    }

    (Tensor, Tensor) CrossKeysValues(Tensor encoderHidden) =>
        (SplitHeads(k_proj.forward(encoderHidden)), SplitHeads(v_proj.forward(encoderHidden)));

    Tensor SplitHeads(Tensor x) => x.view(x.shape[0], x.shape[1], heads, headDim).transpose(1, 2);

    Tensor MergeHeads(Tensor x) => x.transpose(1, 2).reshape(x.shape[0], x.shape[2], heads * headDim);
}
