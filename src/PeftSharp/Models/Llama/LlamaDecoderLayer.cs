using PeftSharp.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Models.Llama;

#pragma warning disable IDE1006 // fields carry the checkpoint's names so state_dict keys equal HF keys

/// <summary>Pre-norm block: x + attn(norm(x)), then + mlp(norm(x)).</summary>
public sealed class LlamaDecoderLayer : nn.Module
{
    /// <summary>The self-attention block (HF's self_attn).</summary>
    public LlamaAttention self_attn;
    /// <summary>The SwiGLU feed-forward block (HF's mlp).</summary>
    public LlamaMlp mlp;
    /// <summary>RMSNorm applied before attention (HF's input_layernorm).</summary>
    public RmsNorm input_layernorm;
    /// <summary>RMSNorm applied before the feed-forward (HF's post_attention_layernorm).</summary>
    public RmsNorm post_attention_layernorm;

    /// <summary>
    /// Creates decoder layer <paramref name="index"/> (0-based) with parameters of <paramref name="dtype"/>.
    /// </summary>
    public LlamaDecoderLayer(LlamaConfig c, int index, ScalarType dtype) : base($"layer{index}")
    {
        self_attn = new LlamaAttention(c, index, dtype);
        mlp = new LlamaMlp(c, dtype);
        input_layernorm = new RmsNorm(c.HiddenSize, c.RmsNormEps, dtype);
        post_attention_layernorm = new RmsNorm(c.HiddenSize, c.RmsNormEps, dtype);
        RegisterComponents();
    }

    /// <summary>
    /// One residual block over <paramref name="x"/> [B, T, hidden]; the other arguments are passed to <see
    /// cref="LlamaAttention.Forward"/>.
    /// </summary>
    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KvCache? cache)
    {
        using var scope = NewDisposeScope();
        var h = x + self_attn.Forward(input_layernorm.forward(x), cos, sin, mask, cache);
        // Re-run by activation checkpointing, only this output's graph is used: the MLP's last GEMM can skip its value
        // (a quarter of the layer's GEMM work in the recomputation).
        return (h + mlp.Forward(post_attention_layernorm.forward(h), outputValueUnused: ActivationCheckpoint.Recomputing)).MoveToOuterDisposeScope();
    }
}
