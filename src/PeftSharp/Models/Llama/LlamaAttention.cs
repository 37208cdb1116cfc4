using PeftSharp.Nn;
using PeftSharp.Nn.Fused;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Models.Llama;

#pragma warning disable IDE1006 // fields carry the checkpoint's names so state_dict keys equal HF keys

/// <summary>
/// Grouped-query self-attention with rotary positions. A prefix in its slot (prefix tuning) puts trainable keys and
/// values before the cached and new ones; the model's mask then covers them.
/// </summary>
public sealed class LlamaAttention : nn.Module, IPrefixHost
{
    /// <summary>
    /// Query projection, hidden -> heads x head_dim (bias per attention_bias); HF's q_proj and a usual LoRA target.
    /// </summary>
    public Linear q_proj;
    /// <summary>Key projection, hidden -> kv_heads x head_dim (bias per attention_bias); HF's k_proj.</summary>
    public Linear k_proj;
    /// <summary>
    /// Value projection, hidden -> kv_heads x head_dim (bias per attention_bias); HF's v_proj and a usual LoRA target.
    /// </summary>
    public Linear v_proj;
    /// <summary>Output projection, heads x head_dim -> hidden, never biased; HF's o_proj.</summary>
    public Linear o_proj;
    readonly int heads, kvHeads, headDim, layerIndex;

    /// <summary>
    /// Creates the attention block of layer <paramref name="layerIndex"/> with weights of <paramref name="dtype"/>
    /// (uninitialised values until a checkpoint is loaded or the caller initialises them).
    /// </summary>
    /// <param name="c">The model configuration (heads, KV heads, head_dim, attention_bias).</param>
    /// <param name="layerIndex">0-based index of the decoder layer, used to find this layer's entries in a <see
    /// cref="KvCache"/>.</param>
    /// <param name="dtype">Parameter dtype (fp32, bf16 or fp16).</param>
    public LlamaAttention(LlamaConfig c, int layerIndex, ScalarType dtype) : base("self_attn")
    {
        heads = c.NumAttentionHeads;
        kvHeads = c.NumKeyValueHeads;
        headDim = c.HeadDim;
        this.layerIndex = layerIndex;
        q_proj = new Linear(c.HiddenSize, heads * headDim, c.AttentionBias, dtype);
        k_proj = new Linear(c.HiddenSize, kvHeads * headDim, c.AttentionBias, dtype);
        v_proj = new Linear(c.HiddenSize, kvHeads * headDim, c.AttentionBias, dtype);
        o_proj = new Linear(heads * headDim, c.HiddenSize, false, dtype);
        RegisterComponents();
    }

    /// <summary>The slot prefix-tuning adapters are injected into; at most one runs at a time.</summary>
    public AdapterSet<IAttentionPrefix> Prefixes { get; } = new();
    IAdapterSwitches IAdapterHost.Switches => Prefixes;
    /// <summary>0-based index of this layer in the decoder stack.</summary>
    public int LayerIndex => layerIndex;
    /// <summary>Number of query heads (num_attention_heads).</summary>
    public int AttentionHeads => heads;
    /// <summary>
    /// Number of key/value heads (num_key_value_heads); fewer than <see cref="AttentionHeads"/> means grouped-query
    /// attention.
    /// </summary>
    public int KeyValueHeads => kvHeads;
    /// <summary>Width of one head (head_dim), even for rotary embeddings.</summary>
    public int HeadDim => headDim;

    /// <summary>Positions the running prefix adds before every sequence (0 without one).</summary>
    public int PrefixLength => Prefixes.SingleRunning()?.Length ?? 0;

    /// <summary>Attention over <paramref name="x"/> [B, T, hidden], returning [B, T, hidden].</summary>
    /// <param name="x">Normalised hidden states [B, T, hidden].</param>
    /// <param name="cos">Rotary cosines for the T new positions (from the model's rotary embedding).</param>
    /// <param name="sin">Rotary sines, as <paramref name="cos"/>.</param>
    /// <param name="mask">Boolean attention mask [B or 1, 1, T, keys] (true = attend), or null for plain causal
    /// attention.</param>
    /// <param name="cache">Keys/values of earlier positions; this call appends its own. Null when processing whole
    /// sequences.</param>
    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KvCache? cache)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        var q = q_proj.forward(x).view(b, t, heads, headDim).transpose(1, 2);
        var k = k_proj.forward(x).view(b, t, kvHeads, headDim).transpose(1, 2);
        var v = v_proj.forward(x).view(b, t, kvHeads, headDim).transpose(1, 2);
        q = RotaryEmbedding.Apply(q, cos, sin);
        k = RotaryEmbedding.Apply(k, cos, sin);
        var prefix = Prefixes.SingleRunning();
        if (cache is null && t > 1 && FastPaths.BlockwiseAttention && headDim >= FastPaths.BlockwiseAttentionMinHeadDim && prefix is null)
        {
            // Whole sequences (training, its checkpointed recomputation, scoring): our blockwise attention, faster than
            // SDPA's CPU kernel and with K/V never repeated per head. Decoding with a KV cache keeps SDPA. Checkpointing's
            // re-run reuses the first run's output (kept: one activation per layer) instead of recomputing it.
            var blockwise = ActivationCheckpoint.ComputedOnce(kept => BlockwiseAttentionFunction.Apply(q, k, v, mask, kept));
            return o_proj.forward(blockwise.transpose(1, 2).reshape(b, t, heads * headDim)).MoveToOuterDisposeScope();
        }
        if (cache is not null) (k, v) = cache.Append(layerIndex, k, v);
        if (prefix is not null)
        {
            var (pk, pv) = prefix.KeysValues(b, k.dtype, k.device);
            k = cat(new[] { pk, k }, 2);
            v = cat(new[] { pv, v }, 2);
        }
        if (kvHeads != heads)
        {
            // Each KV head serves heads/kvHeads consecutive query heads, as HF's repeat_kv.
            k = k.repeat_interleave(heads / kvHeads, 1);
            v = v.repeat_interleave(heads / kvHeads, 1);
        }
        bool causal = mask is null && t > 1;
        var attn = nn.functional.scaled_dot_product_attention(q, k, v, mask, 0.0, causal);
        var merged = attn.transpose(1, 2).reshape(b, t, heads * headDim);
        return o_proj.forward(merged).MoveToOuterDisposeScope();
    }
}
