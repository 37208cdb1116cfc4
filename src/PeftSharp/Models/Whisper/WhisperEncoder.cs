using PeftSharp.Nn;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using LayerNorm = PeftSharp.Nn.LayerNorm;

namespace PeftSharp.Models.Whisper;

#pragma warning disable IDE1006 // fields carry the checkpoint's names so state_dict keys equal HF keys

/// <summary>A position table with the checkpoint's parameter name (`weight`, [positions, d_model]).</summary>
public sealed class PositionTable : nn.Module
{
    /// <summary>The table [positions, d_model] (the checkpoint's <c>embed_positions.weight</c>).</summary>
    public Parameter weight;

    /// <summary>A zero-filled table; the caller fills it (sinusoids for the encoder) or loads it.</summary>
    /// <param name="positions">Rows: the number of positions.</param>
    /// <param name="dModel">Columns: the model width.</param>
    /// <param name="dtype">Parameter dtype.</param>
    /// <param name="trainable">Whether the parameter requires gradients (the decoder's learned table) or not (the
    /// encoder's fixed one).</param>
    public PositionTable(int positions, int dModel, ScalarType dtype, bool trainable) : base(nameof(PositionTable))
    {
        weight = new Parameter(zeros(positions, dModel, dtype: dtype), trainable);
        RegisterComponents();
    }

    /// <summary>Rows [start, start + count) as [count, d_model].</summary>
    public Tensor Rows(long start, long count) => weight.narrow(0, start, count);
}

/// <summary>
/// The audio encoder (HF's `model.encoder`): two GELU convolutions over the log-mel frames (the second halves the
/// frame rate: 3000 frames become 1500 positions), fixed sinusoidal positions, pre-LN layers, a final LayerNorm.
/// </summary>
public sealed class WhisperEncoder : nn.Module
{
    /// <summary>
    /// First convolution, num_mel_bins -> d_model, kernel 3, padding 1, followed by GELU (HF's conv1).
    /// </summary>
    public Conv1d conv1;
    /// <summary>
    /// Second convolution, d_model -> d_model, kernel 3, stride 2, padding 1, followed by GELU: halves the frame rate
    /// (HF's conv2).
    /// </summary>
    public Conv1d conv2;
    /// <summary>Sinusoidal positions [max_source_positions, d_model], frozen (HF's embed_positions).</summary>
    public PositionTable embed_positions;
    /// <summary>The encoder layers in order (HF's layers.N).</summary>
    public ModuleList<WhisperEncoderLayer> layers;
    /// <summary>Final LayerNorm (eps 1e-5) after the last layer (HF's layer_norm).</summary>
    public LayerNorm layer_norm;
    readonly WhisperConfig config;

    /// <summary>Recompute each layer in backward instead of keeping its activations (when gradients are on).</summary>
    public bool GradientCheckpointing { get; set; }

    /// <summary>
    /// Creates the encoder described by <paramref name="c"/> with parameters of <paramref name="dtype"/>; the positions
    /// are filled with the sinusoids.
    /// </summary>
    public WhisperEncoder(WhisperConfig c, ScalarType dtype) : base("encoder")
    {
        config = c;
        conv1 = nn.Conv1d(c.NumMelBins, c.DModel, 3, padding: 1, dtype: dtype);
        conv2 = nn.Conv1d(c.DModel, c.DModel, 3, stride: 2, padding: 1, dtype: dtype);
        // Frozen, as in HF (requires_grad_(False)); checkpoints store it, and it is the formula's value when absent.
        embed_positions = new PositionTable(c.MaxSourcePositions, c.DModel, dtype, trainable: false);
        using (no_grad())
        using (var s = Sinusoids(c.MaxSourcePositions, c.DModel)) embed_positions.weight.copy_(s);
        layers = new ModuleList<WhisperEncoderLayer>(Enumerable.Range(0, c.EncoderLayers).Select(i => new WhisperEncoderLayer(c, i, dtype)).ToArray());
        layer_norm = new LayerNorm(c.DModel, 1e-5, dtype);
        RegisterComponents();
    }

    /// <summary>
    /// OpenAI Whisper's sinusoids(length, channels): [sin(t·τ_i) | cos(t·τ_i)] with
    /// τ_i = exp(-i·ln(10000)/(channels/2 - 1)), i &lt; channels/2; computed in fp64.
    /// </summary>
    public static Tensor Sinusoids(int length, int channels, double maxTimescale = 10000)
    {
        using var scope = NewDisposeScope();
        int half = channels / 2;
        double increment = Math.Log(maxTimescale) / (half - 1);
        var inv = exp(arange(half, dtype: ScalarType.Float64) * -increment);
        var scaled = arange(length, dtype: ScalarType.Float64).unsqueeze(1) * inv.unsqueeze(0);
        return cat(new[] { sin(scaled), cos(scaled) }, 1).MoveToOuterDisposeScope();
    }

    /// <summary>Encoder output [B, 1500, d_model] for log-mel features [B, num_mel_bins, 3000].</summary>
    public Tensor Forward(Tensor inputFeatures)
    {
        if (inputFeatures.dim() != 3 || inputFeatures.shape[1] != config.NumMelBins || inputFeatures.shape[2] != config.InputFrames)
            throw new PeftSharpException(
                $"input features have shape [{string.Join(", ", inputFeatures.shape)}] but the encoder takes [batch, {config.NumMelBins}, {config.InputFrames}] " +
                $"(num_mel_bins log-mel frames of 30 s, padded or trimmed): compute them with LogMelSpectrogram using a {config.NumMelBins}-bin filterbank");
        using var scope = NewDisposeScope();
        var x = inputFeatures.to(conv1.weight!.dtype);
        x = nn.functional.gelu(conv1.forward(x));
        x = nn.functional.gelu(conv2.forward(x));
        var h = x.permute(0, 2, 1) + embed_positions.weight;
        bool checkpoint = GradientCheckpointing && is_grad_enabled();
        // A checkpointed block joins the graph only if its input requires grad (frozen convolutions give one that does not).
        if (checkpoint && !h.requires_grad) h = h.detach().requires_grad_(true);
        foreach (var layer in layers)
            h = checkpoint ? ActivationCheckpoint.Apply((y, _) => layer.Forward(y), h) : layer.Forward(h);
        return layer_norm.forward(h).MoveToOuterDisposeScope();
    }
}
