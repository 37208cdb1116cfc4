using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Adapters.PrefixTuning;

#pragma warning disable IDE1006 // fields carry PEFT's names: prompt_encoder.<adapter>.embedding.weight, .transform.0.weight, ...

/// <summary>
/// Prefix tuning's trainable tensors for all layers (PEFT's PrefixEncoder), registered on the model root as
/// <c>prompt_encoder.&lt;adapter&gt;</c>. Flat form: <c>embedding</c> [n, L*2*token_dim] holds every layer's keys and
/// values. Projection form (training with prefix_projection): <c>embedding</c> [n, token_dim] goes through
/// <c>transform</c> = Linear(token_dim, encoder_hidden_size), tanh, Linear(encoder_hidden_size, L*2*token_dim).
/// Column block 2l of the output is layer l's keys, block 2l+1 its values, each [n, kvHeads*headDim].
/// </summary>
public sealed class PrefixEncoder : nn.Module
{
    /// <summary>
    /// The virtual-token table (PEFT's prompt_encoder.&lt;adapter&gt;.embedding): [n, L*2*token_dim] flat, [n,
    /// token_dim] with the projection.
    /// </summary>
    public TorchSharp.Modules.Embedding embedding;
    /// <summary>The projection MLP (Linear, tanh, Linear; PEFT's transform), or null in the flat form.</summary>
    public Sequential? transform;
    // Not a module-typed field: TorchSharp treats those as submodules, and the root would make a cycle.
    readonly Action unregister;
    int views;

    /// <summary>Number of virtual tokens n (prefix positions).</summary>
    public int VirtualTokens { get; }
    /// <summary>Number of decoder layers L that get a prefix.</summary>
    public int Layers { get; }
    /// <summary>The model's key/value heads, the head count of the prefix.</summary>
    public int KeyValueHeads { get; }
    /// <summary>The model's head width.</summary>
    public int HeadDim { get; }
    /// <summary>Width of one layer's keys (or values): <see cref="KeyValueHeads"/> x <see cref="HeadDim"/>.</summary>
    public int TokenDim => KeyValueHeads * HeadDim;
    /// <summary>Whether this encoder has the projection MLP (the training form of prefix_projection).</summary>
    public bool Projection => transform is not null;
    /// <summary>The adapter's config with the model's dimensions filled in.</summary>
    public PrefixTuningConfig Config { get; }

    internal PrefixEncoder(nn.Module root, string adapterName, PrefixTuningConfig config, bool projection, int kvHeads, int headDim, Generator? generator) : base(adapterName)
    {
        unregister = () => PromptLearningConfig.Unregister(root, adapterName);
        Config = config;
        VirtualTokens = config.NumVirtualTokens;
        Layers = config.NumLayers!.Value;
        KeyValueHeads = kvHeads;
        HeadDim = headDim;
        long width = (long)Layers * 2 * TokenDim;
        embedding = nn.Embedding(VirtualTokens, projection ? TokenDim : width, dtype: ScalarType.Float32);
        int hidden = config.EncoderHiddenSize!.Value;
        if (projection)
            transform = nn.Sequential(("0", nn.Linear(TokenDim, hidden, dtype: ScalarType.Float32)), ("1", nn.Tanh()),
                ("2", nn.Linear(hidden, width, dtype: ScalarType.Float32)));
        // Registered by hand: transform exists only in the projection form.
        register_module(nameof(embedding), embedding);
        if (transform is not null) register_module(nameof(transform), transform);
        using var _ = no_grad();
        embedding.weight!.copy_(randn(embedding.weight.shape, ScalarType.Float32, generator: generator)); // nn.Embedding's N(0, 1)
        if (transform is not null)
            foreach (var linear in new[] { First, Second })
            {
                // nn.Linear's default: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias, drawn from the seeded generator.
                double bound = 1 / Math.Sqrt(linear.weight.shape[1]);
                linear.weight.copy_(rand(linear.weight.shape, ScalarType.Float32, generator: generator) * (2 * bound) - bound);
                linear.bias!.copy_(rand(linear.bias.shape, ScalarType.Float32, generator: generator) * (2 * bound) - bound);
            }
    }

    TorchSharp.Modules.Linear First => (TorchSharp.Modules.Linear)transform![0];
    TorchSharp.Modules.Linear Second => (TorchSharp.Modules.Linear)transform![2];

    /// <summary>The projection MLP's hidden activations tanh(W0 e + b0) [n, encoder_hidden_size].</summary>
    Tensor Hidden() => nn.functional.linear(embedding.weight!, First.weight, First.bias).tanh();

    /// <summary>Layer <paramref name="layer"/>'s keys and values as [n, 2*token_dim] (keys first), computing only its rows in projection form.</summary>
    public Tensor LayerColumns(int layer)
    {
        long start = 2L * layer * TokenDim, width = 2L * TokenDim;
        if (transform is null) return embedding.weight!.narrow(1, start, width);
        return nn.functional.linear(Hidden(), Second.weight.narrow(0, start, width), Second.bias!.narrow(0, start, width));
    }

    /// <summary>Every layer's keys and values [n, L*2*token_dim]: the flat table, or the projection's output (the folded form).</summary>
    public Tensor Output() => transform is null ? embedding.weight! : Second.forward(Hidden());

    /// <summary>Training-form tensors by the names a resume checkpoint stores them under.</summary>
    public IReadOnlyDictionary<string, Tensor> TrainingTensors() => named_parameters().ToDictionary(p => PrefixTuningConfig.ResumeKeyPrefix + p.name, p => (Tensor)p.parameter);

    internal void AddView() => views++;

    /// <summary>Called as each layer's view detaches; the encoder leaves the model with the last one.</summary>
    internal void ReleaseView()
    {
        if (--views <= 0) unregister();
    }
}
