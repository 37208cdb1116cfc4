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
    public Linear q_proj;
    public Linear k_proj;
    public Linear v_proj;
    public Linear o_proj;
    readonly int heads, kvHeads, headDim, layerIndex;

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

    public AdapterSet<IAttentionPrefix> Prefixes { get; } = new();
    IAdapterSwitches IAdapterHost.Switches => Prefixes;
    public int LayerIndex => layerIndex;
    public int AttentionHeads => heads;
    public int KeyValueHeads => kvHeads;
    public int HeadDim => headDim;

    /// <summary>Positions the running prefix adds before every sequence (0 without one).</summary>
    public int PrefixLength => Prefixes.SingleRunning()?.Length ?? 0;

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
            // SDPA's CPU kernel and with K/V never repeated per head. Decoding with a KV cache keeps SDPA.
            var blockwise = BlockwiseAttentionFunction.Apply(q, k, v, mask);
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
