using PeftSharp.IO;
using TorchSharp;
using static TorchSharp.torch;
using Linear = PeftSharp.Nn.Linear;

namespace PeftSharp.Models.Whisper;

#pragma warning disable IDE1006 // fields carry the checkpoint's names so state_dict keys equal HF keys

/// <summary>HF's WhisperModel (`model.*`): the audio encoder and the text decoder.</summary>
public sealed class WhisperModel : nn.Module
{
    /// <summary>The audio encoder (HF's <c>model.encoder.*</c>).</summary>
    public WhisperEncoder encoder;
    /// <summary>The text decoder (HF's <c>model.decoder.*</c>).</summary>
    public WhisperDecoder decoder;

    /// <summary>
    /// Creates encoder and decoder as <paramref name="c"/> describes, with parameters of <paramref name="dtype"/>.
    /// </summary>
    public WhisperModel(WhisperConfig c, ScalarType dtype) : base("model")
    {
        encoder = new WhisperEncoder(c, dtype);
        decoder = new WhisperDecoder(c, dtype);
        RegisterComponents();
    }
}

/// <summary>
/// HF's WhisperForConditionalGeneration: encoder-decoder plus the output projection `proj_out`, tied to the
/// decoder's token embeddings. state_dict keys equal the HF checkpoint's.
/// </summary>
public sealed class WhisperForConditionalGeneration : nn.Module
{
    /// <summary>The encoder and decoder (HF's <c>model.*</c> keys).</summary>
    public WhisperModel model;
    /// <summary>
    /// Output projection d_model -> vocab without bias (HF's proj_out); shares the decoder's token embeddings when
    /// tied.
    /// </summary>
    public Linear proj_out;
    /// <summary>The configuration the model was built from (config.json).</summary>
    public WhisperConfig Config { get; }
    /// <summary>
    /// The dtype the parameters were created in (fp32 or bf16); quantized layers keep their own storage.
    /// </summary>
    public ScalarType DType { get; }

    /// <summary>Checkpoint key of the encoder's sinusoidal position table, which some checkpoints omit.</summary>
    public const string EncoderPositionsKey = "model.encoder.embed_positions.weight";
    /// <summary>Checkpoint key of the output projection, absent from checkpoints with tied embeddings.</summary>
    public const string OutputProjectionKey = "proj_out.weight";

    /// <summary>
    /// Creates the model with parameters of <paramref name="dtype"/> (default fp32), not initialised until loaded (<see
    /// cref="PretrainedWhisper"/> loads a checkpoint folder).
    /// </summary>
    /// <exception cref="ConfigurationException">The config is invalid (<see
    /// cref="WhisperConfig.Validate"/>).</exception>
    public WhisperForConditionalGeneration(WhisperConfig config, ScalarType dtype = ScalarType.Float32) : base(nameof(WhisperForConditionalGeneration))
    {
        config.Validate();
        Config = config;
        DType = dtype;
        model = new WhisperModel(config, dtype);
        proj_out = config.TieWordEmbeddings
            ? new Linear(model.decoder.embed_tokens.weight)
            : new Linear(config.DModel, config.VocabSize, false, dtype);
        RegisterComponents();
    }

    /// <summary>Recompute encoder and decoder layers in backward instead of keeping their activations.</summary>
    public bool GradientCheckpointing
    {
        get => model.encoder.GradientCheckpointing;
        set
        {
            model.encoder.GradientCheckpointing = value;
            model.decoder.GradientCheckpointing = value;
        }
    }

    /// <summary>
    /// Keys a checkpoint need not store: the tied `proj_out.weight`, and the encoder's sinusoidal positions when
    /// <paramref name="source"/> lacks them (they are then the formula's, computed at construction).
    /// </summary>
    public IReadOnlySet<string> KeysNotRequired(ITensorSource source)
    {
        var keys = new HashSet<string>(StringComparer.Ordinal);
        if (Config.TieWordEmbeddings) keys.Add(OutputProjectionKey);
        if (!source.Contains(EncoderPositionsKey)) keys.Add(EncoderPositionsKey);
        return keys;
    }

    /// <summary>Encoder output [B, 1500, d_model] for log-mel features [B, num_mel_bins, 3000].</summary>
    public Tensor Encode(Tensor inputFeatures) => model.encoder.Forward(inputFeatures);

    /// <summary>
    /// Logits [B, T, vocab] in fp32 (fp64 for an fp64 model) for decoder tokens [B, T]. With a <paramref name="cache"/>
    /// the tokens follow its positions and their keys/values are added to it; cross-attention keys/values are
    /// computed from <paramref name="encoderHidden"/> on the cache's first use and reused after.
    /// </summary>
    public Tensor Decode(Tensor decoderInputIds, Tensor encoderHidden, WhisperDecoderCache? cache = null)
    {
        using var scope = NewDisposeScope();
        var logits = proj_out.forward(model.decoder.Forward(decoderInputIds, encoderHidden, cache));
        return (logits.dtype == ScalarType.Float64 ? logits : logits.to(ScalarType.Float32)).MoveToOuterDisposeScope();
    }

    /// <summary>Teacher-forced logits [B, T, vocab]: encode the features, decode the given tokens.</summary>
    public Tensor Forward(Tensor inputFeatures, Tensor decoderInputIds)
    {
        using var scope = NewDisposeScope();
        return Decode(decoderInputIds, Encode(inputFeatures)).MoveToOuterDisposeScope();
    }

    /// <summary>A decoding cache for up to max_target_positions tokens.</summary>
    public WhisperDecoderCache NewCache() => new(Config.DecoderLayers, Config.MaxTargetPositions);

    /// <summary>
    /// HF's shift_tokens_right: decoder inputs from labels [B, T] — decoder_start_token_id first, labels shifted one
    /// right, -100 (ignored label) replaced by pad_token_id.
    /// </summary>
    public Tensor DecoderInputsFromLabels(Tensor labels)
    {
        using var scope = NewDisposeScope();
        var start = full(labels.shape[0], 1, Config.DecoderStartTokenId, dtype: ScalarType.Int64, device: labels.device);
        var shifted = cat(new[] { start, labels.narrow(1, 0, labels.shape[1] - 1).to(ScalarType.Int64) }, 1);
        return shifted.masked_fill(shifted.eq(-100), Config.PadTokenId).MoveToOuterDisposeScope();
    }
}
