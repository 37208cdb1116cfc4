using System.Globalization;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Adapters.PrefixTuning;

/// <summary>
/// Prefix tuning (PEFT's PrefixTuningConfig, Li and Liang 2021): <see cref="PromptLearningConfig.NumVirtualTokens"/>
/// trainable keys and values placed before every attention layer's own. For GQA models the prefix has the model's
/// key/value heads (PEFT sets num_attention_heads = num_key_value_heads and token_dim = kvHeads * headDim). With
/// <see cref="PrefixProjection"/> it trains through an MLP; the saved file holds the MLP's output only (the folded
/// [n, L*2*token_dim] table, as PEFT's), and a config saved with inference_mode builds the flat form that reads it.
/// </summary>
public sealed record PrefixTuningConfig : PromptLearningConfig
{
    /// <summary>Resume checkpoints keep the training-form tensors under this prefix (prompt_encoder.transform.0.weight, ...).</summary>
    public const string ResumeKeyPrefix = "prompt_encoder.";

    /// <inheritdoc/>
    public override string PeftType => "PREFIX_TUNING";
    /// <summary>The projection MLP's hidden size (default: token_dim).</summary>
    public int? EncoderHiddenSize { get; init; }
    /// <summary>
    /// Train the prefix through an MLP (PEFT's prefix_projection; more stable, more parameters); default false.
    /// </summary>
    public bool PrefixProjection { get; init; }
    /// <summary>PEFT 0.21's init_weights (null there); kept as read.</summary>
    public JsonNode? InitWeights { get; init; }

    /// <summary>
    /// The adapter_config.json keys a prefix-tuning config may carry; others are reported as ignored when reading.
    /// </summary>
    public static readonly HashSet<string> KnownKeys = new(CommonKeys.Concat(SharedKeys)) { "encoder_hidden_size", "prefix_projection", "init_weights" };

    /// <summary>True when this config builds the projection MLP (training form): prefix_projection outside inference mode.</summary>
    public bool BuildsProjection => PrefixProjection && !InferenceMode;

    /// <inheritdoc/>
    public override string Describe()
    {
        var hidden = EncoderHiddenSize?.ToString(CultureInfo.InvariantCulture) ?? "token_dim";
        var form = BuildsProjection ? $"projection (encoder_hidden_size {hidden})" : PrefixProjection ? "projection folded (inference form)" : "no projection";
        return $"prefix tuning, {NumVirtualTokens.ToString(CultureInfo.InvariantCulture)} virtual tokens, {form}";
    }

    /// <inheritdoc/>
    public override PrefixTuningConfig Validate(string source = "prefix tuning config")
    {
        ValidateShared(source);
        if (EncoderHiddenSize is <= 0) throw new ConfigurationException($"{source}: encoder_hidden_size must be a positive integer, found {EncoderHiddenSize}");
        return this;
    }

    /// <summary>
    /// Creates the <see cref="PrefixEncoder"/> on the model root and a <see cref="LayerPrefix"/> in every attention
    /// layer, filling the dimensions from the model.
    /// </summary>
    /// <exception cref="ConfigurationException">The model has no prefix slots, or a dimension in the config differs
    /// from the model's.</exception>
    public override void Inject(AdapterRecord record, nn.Module model, Generator? generator)
    {
        var hosts = PrefixHosts(model);
        if (hosts.Count == 0) throw new ConfigurationException($"prefix tuning needs attention layers with a prefix slot ({model.GetType().Name} has none)");
        int kvHeads = hosts[0].KeyValueHeads, headDim = hosts[0].HeadDim;
        var source = $"adapter '{record.Name}'";
        int tokenDim = Resolve(TokenDim, kvHeads * headDim, "token_dim", source);
        var resolved = this with
        {
            NumLayers = Resolve(NumLayers, hosts.Count, "num_layers", source),
            NumAttentionHeads = Resolve(NumAttentionHeads, kvHeads, "num_attention_heads", source),
            TokenDim = tokenDim,
            EncoderHiddenSize = EncoderHiddenSize ?? tokenDim,
        };
        var encoder = new PrefixEncoder(model, record.Name, resolved, BuildsProjection, kvHeads, headDim, generator);
        Register(model, record.Name, encoder);
        var paths = new Dictionary<object, string>(ReferenceEqualityComparer.Instance);
        foreach (var (name, module) in model.named_modules()) paths.TryAdd(module, name);
        foreach (var host in hosts)
        {
            var prefix = new LayerPrefix(encoder, host, record.Name);
            host.Prefixes.Add(record.Name, prefix);
            record.Layers.Add(new AttachedAdapter(paths[host], (nn.Module)host, prefix));
        }
    }

    static PrefixEncoder Encoder(AdapterRecord record) => Attached<LayerPrefix>(record).Encoder;

    /// <summary>
    /// The config with the model's dimensions, as PEFT writes it after get_peft_model. task_type is always written:
    /// without it PEFT loads a plain PeftModel, which never feeds the virtual tokens in.
    /// </summary>
    public override AdapterConfig ForSave(AdapterRecord record, bool forResume) =>
        Encoder(record).Config with { BaseModelNameOrPath = BaseModelNameOrPath, InferenceMode = InferenceMode, TaskType = TaskType ?? "CAUSAL_LM" };

    /// <summary>
    /// prompt_embeddings = the prefix as every layer sees it (the projection folded away, as PEFT saves it); a resume
    /// checkpoint of the projection form also keeps the embedding and MLP under <see cref="ResumeKeyPrefix"/>.
    /// </summary>
    public override IDictionary<string, Tensor> SavedTensors(AdapterRecord record, IDictionary<string, Tensor> byKey, bool forResume)
    {
        var encoder = Encoder(record);
        Tensor folded;
        using (no_grad()) folded = encoder.Output().contiguous();
        var saved = new Dictionary<string, Tensor> { [SavedKey] = folded };
        if (forResume && encoder.Projection)
            foreach (var (key, t) in encoder.TrainingTensors()) saved[key] = t;
        return saved;
    }

    /// <summary>
    /// Where a file's tensors go: prompt_embeddings into the flat table; in the projection form, the training tensors
    /// of a resume checkpoint (its folded table is read but unused).
    /// </summary>
    /// <exception cref="PeftSharpException">A projection-form adapter meets a file with only the folded
    /// prefix.</exception>
    public override IDictionary<string, Tensor> LoadTargets(AdapterRecord record, IDictionary<string, Tensor> byKey, IReadOnlyCollection<string> fileKeys)
    {
        var encoder = Encoder(record);
        if (!encoder.Projection) return new Dictionary<string, Tensor> { [SavedKey] = encoder.embedding.weight! };
        var training = encoder.TrainingTensors();
        if (!training.Keys.All(fileKeys.Contains))
            throw new PeftSharpException(
                $"adapter '{record.Name}' trains prefix_projection (embedding + MLP), but the file holds only the folded prefix ({SavedKey}), " +
                $"from which the MLP cannot be rebuilt: load it for inference (a config with inference_mode true builds the flat prefix), " +
                $"or resume from a trainer checkpoint, which keeps {string.Join(", ", training.Keys)}");
        // The folded table in a resume checkpoint is redundant with the MLP: read into a scratch tensor (its shape is still checked).
        return new Dictionary<string, Tensor>(training) { [SavedKey] = empty(encoder.VirtualTokens, (long)encoder.Layers * 2 * encoder.TokenDim) };
    }

    /// <summary>
    /// Reads adapter_config.json (PEFT's PrefixTuningConfig); keys not used are added to <paramref name="ignored"/>.
    /// </summary>
    /// <exception cref="ConfigurationException">num_virtual_tokens is missing or a value is invalid.</exception>
    /// <exception cref="InvalidFileFormatException">A value has the wrong JSON type.</exception>
    public static PrefixTuningConfig FromJson(JsonReading j, List<string> ignored) => Read(new PrefixTuningConfig
    {
        EncoderHiddenSize = j.Has("encoder_hidden_size") ? j.RequireInt("encoder_hidden_size") : null,
        PrefixProjection = j.Bool("prefix_projection", false),
        InitWeights = Raw(j, "init_weights"),
    }, j, KnownKeys, ignored);

    /// <inheritdoc/>
    public override JsonObject ToJson() => WithSharedFieldsSorted(new JsonObject
    {
        ["encoder_hidden_size"] = EncoderHiddenSize,
        ["prefix_projection"] = PrefixProjection,
        ["init_weights"] = InitWeights?.DeepClone(),
    });
}
