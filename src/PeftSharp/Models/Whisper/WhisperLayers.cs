using PeftSharp.Nn;
using TorchSharp;
using static TorchSharp.torch;
using LayerNorm = PeftSharp.Nn.LayerNorm;

namespace PeftSharp.Models.Whisper;

#pragma warning disable IDE1006 // fields carry the checkpoint's names so state_dict keys equal HF keys

/// <summary>Pre-LN encoder block: x + self_attn(LN(x)), then + fc2(gelu(fc1(LN(x)))).</summary>
public sealed class WhisperEncoderLayer : nn.Module
{
    /// <summary>Self-attention over the audio positions, unmasked (HF's self_attn).</summary>
    public WhisperAttention self_attn;
    /// <summary>LayerNorm before self-attention (HF's self_attn_layer_norm).</summary>
    public LayerNorm self_attn_layer_norm;
    /// <summary>Feed-forward expansion d_model -> encoder_ffn_dim with bias (HF's fc1).</summary>
    public Linear fc1;
    /// <summary>Feed-forward projection encoder_ffn_dim -> d_model with bias (HF's fc2).</summary>
    public Linear fc2;
    /// <summary>LayerNorm before the feed-forward (HF's final_layer_norm).</summary>
    public LayerNorm final_layer_norm;

    /// <summary>
    /// Creates encoder layer <paramref name="index"/> (0-based) with parameters of <paramref name="dtype"/>.
    /// </summary>
    public WhisperEncoderLayer(WhisperConfig c, int index, ScalarType dtype) : base($"layer{index}")
    {
        self_attn = new WhisperAttention("self_attn", c.DModel, c.EncoderAttentionHeads, dtype);
        self_attn_layer_norm = new LayerNorm(c.DModel, 1e-5, dtype);
        fc1 = new Linear(c.DModel, c.EncoderFfnDim, true, dtype);
        fc2 = new Linear(c.EncoderFfnDim, c.DModel, true, dtype);
        final_layer_norm = new LayerNorm(c.DModel, 1e-5, dtype);
        RegisterComponents();
    }

    /// <summary>One encoder block over <paramref name="x"/> [B, positions, d_model], same shape out.</summary>
    public Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = x + self_attn.SelfAttention(self_attn_layer_norm.forward(x), causal: false);
        return (h + fc2.forward(nn.functional.gelu(fc1.forward(final_layer_norm.forward(h))))).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Pre-LN decoder block: x + causal self_attn(LN(x)), + encoder_attn(LN(x), encoder output), then
/// + fc2(gelu(fc1(LN(x)))).
/// </summary>
public sealed class WhisperDecoderLayer : nn.Module
{
    /// <summary>Causal self-attention over the tokens so far (HF's self_attn).</summary>
    public WhisperAttention self_attn;
    /// <summary>LayerNorm before self-attention (HF's self_attn_layer_norm).</summary>
    public LayerNorm self_attn_layer_norm;
    /// <summary>Cross-attention from the tokens to the encoder output (HF's encoder_attn).</summary>
    public WhisperAttention encoder_attn;
    /// <summary>LayerNorm before cross-attention (HF's encoder_attn_layer_norm).</summary>
    public LayerNorm encoder_attn_layer_norm;
    /// <summary>Feed-forward expansion d_model -> decoder_ffn_dim with bias (HF's fc1).</summary>
    public Linear fc1;
    /// <summary>Feed-forward projection decoder_ffn_dim -> d_model with bias (HF's fc2).</summary>
    public Linear fc2;
    /// <summary>LayerNorm before the feed-forward (HF's final_layer_norm).</summary>
    public LayerNorm final_layer_norm;
    readonly int index;

    /// <summary>
    /// Creates decoder layer <paramref name="index"/> (0-based; its slot in the cache) with parameters of <paramref
    /// name="dtype"/>.
    /// </summary>
    public WhisperDecoderLayer(WhisperConfig c, int index, ScalarType dtype) : base($"layer{index}")
    {
        this.index = index;
        self_attn = new WhisperAttention("self_attn", c.DModel, c.DecoderAttentionHeads, dtype);
        self_attn_layer_norm = new LayerNorm(c.DModel, 1e-5, dtype);
        encoder_attn = new WhisperAttention("encoder_attn", c.DModel, c.DecoderAttentionHeads, dtype);
        encoder_attn_layer_norm = new LayerNorm(c.DModel, 1e-5, dtype);
        fc1 = new Linear(c.DModel, c.DecoderFfnDim, true, dtype);
        fc2 = new Linear(c.DecoderFfnDim, c.DModel, true, dtype);
        final_layer_norm = new LayerNorm(c.DModel, 1e-5, dtype);
        RegisterComponents();
    }

    /// <summary>One decoder block over <paramref name="x"/> [B, T, d_model], same shape out.</summary>
    /// <param name="x">Hidden states of the new tokens.</param>
    /// <param name="encoderHidden">Encoder output [B, positions, d_model].</param>
    /// <param name="cache">Self- and cross-attention keys/values of earlier steps; null when processing whole
    /// sequences.</param>
    public Tensor Forward(Tensor x, Tensor encoderHidden, WhisperDecoderCache? cache)
    {
        using var scope = NewDisposeScope();
        var h = x + self_attn.SelfAttention(self_attn_layer_norm.forward(x), causal: true, cache?.Self, index);
        h = h + encoder_attn.CrossAttention(encoder_attn_layer_norm.forward(h), encoderHidden, cache, index);
        return (h + fc2.forward(nn.functional.gelu(fc1.forward(final_layer_norm.forward(h))))).MoveToOuterDisposeScope();
    }
}
