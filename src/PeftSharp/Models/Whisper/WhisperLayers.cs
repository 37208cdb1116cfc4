using PeftSharp.Nn;
using TorchSharp;
using static TorchSharp.torch;
using LayerNorm = PeftSharp.Nn.LayerNorm;

namespace PeftSharp.Models.Whisper;

#pragma warning disable IDE1006 // fields carry the checkpoint's names so state_dict keys equal HF keys

/// <summary>Pre-LN encoder block: x + self_attn(LN(x)), then + fc2(gelu(fc1(LN(x)))).</summary>
public sealed class WhisperEncoderLayer : nn.Module
{
    public WhisperAttention self_attn;
    public LayerNorm self_attn_layer_norm;
    public Linear fc1;
    public Linear fc2;
    public LayerNorm final_layer_norm;

    public WhisperEncoderLayer(WhisperConfig c, int index, ScalarType dtype) : base($"layer{index}")
    {
        self_attn = new WhisperAttention("self_attn", c.DModel, c.EncoderAttentionHeads, dtype);
        self_attn_layer_norm = new LayerNorm(c.DModel, 1e-5, dtype);
        fc1 = new Linear(c.DModel, c.EncoderFfnDim, true, dtype);
        fc2 = new Linear(c.EncoderFfnDim, c.DModel, true, dtype);
        final_layer_norm = new LayerNorm(c.DModel, 1e-5, dtype);
        RegisterComponents();
    }

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
    public WhisperAttention self_attn;
    public LayerNorm self_attn_layer_norm;
    public WhisperAttention encoder_attn;
    public LayerNorm encoder_attn_layer_norm;
    public Linear fc1;
    public Linear fc2;
    public LayerNorm final_layer_norm;
    readonly int index;

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

    public Tensor Forward(Tensor x, Tensor encoderHidden, WhisperDecoderCache? cache)
    {
        using var scope = NewDisposeScope();
        var h = x + self_attn.SelfAttention(self_attn_layer_norm.forward(x), causal: true, cache?.Self, index);
        h = h + encoder_attn.CrossAttention(encoder_attn_layer_norm.forward(h), encoderHidden, cache, index);
        return (h + fc2.forward(nn.functional.gelu(fc1.forward(final_layer_norm.forward(h))))).MoveToOuterDisposeScope();
    }
}
