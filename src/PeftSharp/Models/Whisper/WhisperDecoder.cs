using PeftSharp.Nn;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Embedding = PeftSharp.Nn.Embedding;
using LayerNorm = PeftSharp.Nn.LayerNorm;

namespace PeftSharp.Models.Whisper;

#pragma warning disable IDE1006 // fields carry the checkpoint's names so state_dict keys equal HF keys

/// <summary>The text decoder (HF's `model.decoder`): token and learned position embeddings, pre-LN layers with cross-attention, a final LayerNorm.</summary>
public sealed class WhisperDecoder : nn.Module
{
    /// <summary>Token embeddings [vocab, d_model] (HF's embed_tokens); proj_out shares them when tied.</summary>
    public Embedding embed_tokens;
    /// <summary>
    /// Learned position embeddings [max_target_positions, d_model] (HF's embed_positions), trainable.
    /// </summary>
    public PositionTable embed_positions;
    /// <summary>The decoder layers in order (HF's layers.N).</summary>
    public ModuleList<WhisperDecoderLayer> layers;
    /// <summary>Final LayerNorm (eps 1e-5) after the last layer (HF's layer_norm).</summary>
    public LayerNorm layer_norm;
    readonly double embedScale;
    readonly int maxPositions;

    /// <summary>
    /// Recompute each layer in backward instead of keeping its activations (when gradients are on, without a cache).
    /// Skipped while the encoder output itself needs a gradient (a trained encoder): a checkpointed block passes
    /// gradients to its input only, and the encoder output enters each layer as a constant.
    /// </summary>
    public bool GradientCheckpointing { get; set; }

    /// <summary>
    /// Creates the decoder described by <paramref name="c"/> with parameters of <paramref name="dtype"/>.
    /// </summary>
    public WhisperDecoder(WhisperConfig c, ScalarType dtype) : base("decoder")
    {
        embed_tokens = new Embedding(c.VocabSize, c.DModel, dtype);
        embed_positions = new PositionTable(c.MaxTargetPositions, c.DModel, dtype, trainable: true);
        layers = new ModuleList<WhisperDecoderLayer>(Enumerable.Range(0, c.DecoderLayers).Select(i => new WhisperDecoderLayer(c, i, dtype)).ToArray());
        layer_norm = new LayerNorm(c.DModel, 1e-5, dtype);
        embedScale = c.ScaleEmbedding ? Math.Sqrt(c.DModel) : 1.0;
        maxPositions = c.MaxTargetPositions;
        RegisterComponents();
    }

    /// <summary>Hidden states [B, T, d_model] for token ids [B, T] after the cache's positions.</summary>
    public Tensor Forward(Tensor inputIds, Tensor encoderHidden, WhisperDecoderCache? cache = null)
    {
        long t = inputIds.shape[1], past = cache?.Length ?? 0;
        if (past + t > maxPositions)
            throw new PeftSharpException(
                $"the decoder input reaches position {past + t} but Whisper's decoder has {maxPositions} positions (max_target_positions): shorten the labels or lower max new tokens");
        if (encoderHidden.shape[0] != inputIds.shape[0])
            throw new PeftSharpException($"the decoder input has {inputIds.shape[0]} rows but the encoder output has {encoderHidden.shape[0]}: pass one encoder output row per decoder row");
        using var scope = NewDisposeScope();
        var tokens = embed_tokens.forward(inputIds);
        if (embedScale != 1.0) tokens = tokens * embedScale;
        var h = tokens + embed_positions.Rows(past, t).to(tokens.dtype);
        var memory = encoderHidden.to(h.dtype);
        bool checkpoint = GradientCheckpointing && cache is null && is_grad_enabled() && !memory.requires_grad;
        if (checkpoint && !h.requires_grad) h = h.detach().requires_grad_(true);
        foreach (var layer in layers)
            h = checkpoint ? ActivationCheckpoint.Apply((x, c) => layer.Forward(x, c[0], null), h, memory) : layer.Forward(h, memory, cache);
        cache?.Self.Advance((int)t);
        return layer_norm.forward(h).MoveToOuterDisposeScope();
    }
}
