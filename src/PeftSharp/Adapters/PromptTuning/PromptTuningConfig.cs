using System.Globalization;
using System.Text.Json.Nodes;
using PeftSharp.Nn;
using PeftSharp.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Adapters.PromptTuning;

/// <summary>
/// Prompt tuning (PEFT's PromptTuningConfig, Lester et al. 2021): <see cref="PromptLearningConfig.NumVirtualTokens"/>
/// trainable embeddings prepended to the input. They start as N(0, 1) (RANDOM), as the word embeddings of an init text
/// (TEXT) or of random vocabulary rows (SAMPLE_VOCAB). Saved as one tensor, prompt_embeddings [n, hidden].
/// </summary>
public sealed record PromptTuningConfig : PromptLearningConfig
{
    /// <inheritdoc/>
    public override string PeftType => "PROMPT_TUNING";
    /// <summary>"RANDOM", "TEXT" or "SAMPLE_VOCAB".</summary>
    public string PromptTuningInit { get; init; } = "RANDOM";
    /// <summary>
    /// The text whose token embeddings start the virtual tokens when <see cref="PromptTuningInit"/> is "TEXT" (PEFT's
    /// prompt_tuning_init_text).
    /// </summary>
    public string? PromptTuningInitText { get; init; }
    /// <summary>
    /// PEFT's tokenizer_name_or_path, which PEFT needs for a TEXT init; written as the base model when unset. Not used
    /// here (the model's own tokenizer encodes the text).
    /// </summary>
    public string? TokenizerNameOrPath { get; init; }
    /// <summary>PEFT's tokenizer_kwargs, kept as read and written back; not used here.</summary>
    public JsonNode? TokenizerKwargs { get; init; }
    /// <summary>
    /// The init text's token ids as the model's tokenizer gives them (BOS included where it adds one), set by
    /// <see cref="WithTokenizer"/> or directly; repeated or truncated to the virtual tokens as PEFT does. Not saved.
    /// </summary>
    public IReadOnlyList<int>? InitTokenIds { get; init; }

    /// <summary>
    /// The adapter_config.json keys a prompt-tuning config may carry; others are reported as ignored when reading.
    /// </summary>
    public static readonly HashSet<string> KnownKeys = new(CommonKeys.Concat(SharedKeys))
    {
        "prompt_tuning_init", "prompt_tuning_init_text", "tokenizer_name_or_path", "tokenizer_kwargs",
    };

    /// <inheritdoc/>
    public override string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"prompt tuning, {NumVirtualTokens} virtual tokens, init {PromptTuningInit}{(PromptTuningInit == "TEXT" ? $" \"{PromptTuningInitText}\"" : "")}");

    /// <inheritdoc/>
    public override PromptTuningConfig Validate(string source = "prompt tuning config")
    {
        ValidateShared(source);
        if (PromptTuningInit is not ("RANDOM" or "TEXT" or "SAMPLE_VOCAB"))
            throw new ConfigurationException($"{source}: prompt_tuning_init must be RANDOM, TEXT or SAMPLE_VOCAB, found '{PromptTuningInit}'");
        if (PromptTuningInit == "TEXT" && string.IsNullOrEmpty(PromptTuningInitText) && InitTokenIds is null)
            throw new ConfigurationException($"{source}: prompt_tuning_init TEXT needs prompt_tuning_init_text (the text whose token embeddings start the virtual tokens)");
        return this;
    }

    /// <summary>Resolves a TEXT init to token ids with the model's tokenizer (as PEFT's tokenizer(text)["input_ids"]).</summary>
    public override AdapterConfig WithTokenizer(ITextTokenizer tokenizer) =>
        PromptTuningInit == "TEXT" && InitTokenIds is null && PromptTuningInitText is { } text
            ? this with { InitTokenIds = tokenizer.Encode(text, addSpecialTokens: true) }
            : this;

    /// <summary>
    /// Creates the <see cref="PromptEmbedding"/> on the model root, initialised per <see cref="PromptTuningInit"/>
    /// (unless in inference mode), and plugs it into the model's virtual-token slot.
    /// </summary>
    /// <exception cref="ConfigurationException">The model takes no virtual tokens, a dimension differs from the
    /// model's, or a TEXT init has no token ids (call <see cref="WithTokenizer"/>) or ids outside the
    /// vocabulary.</exception>
    public override void Inject(AdapterRecord record, nn.Module model, Generator? generator)
    {
        var host = model.modules().OfType<IVirtualTokenHost>().FirstOrDefault()
            ?? throw new ConfigurationException($"prompt tuning needs a model that accepts virtual tokens ({model.GetType().Name} does not)");
        var attention = PrefixHosts(model);
        var source = $"adapter '{record.Name}'";
        var resolved = this with
        {
            TokenDim = Resolve(TokenDim, host.HiddenSize, "token_dim", source),
            NumLayers = Resolve(NumLayers, attention.Count, "num_layers", source),
            NumAttentionHeads = attention.Count > 0 ? Resolve(NumAttentionHeads, attention[0].AttentionHeads, "num_attention_heads", source) : NumAttentionHeads,
        };
        var prompt = new PromptEmbedding(model, host, record.Name, resolved);
        try
        {
            if (!InferenceMode) Initialize(prompt.Weight, host.InputEmbeddings.weight, generator);
        }
        catch
        {
            prompt.Dispose();
            throw;
        }
        Register(model, record.Name, prompt);
        host.VirtualTokens.Add(record.Name, prompt);
        record.Layers.Add(new AttachedAdapter(model.named_modules().First(m => ReferenceEquals(m.module, host)).name, (nn.Module)host, prompt));
    }

    void Initialize(Tensor weight, Tensor wordEmbeddings, Generator? generator)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        long vocab = wordEmbeddings.shape[0];
        switch (PromptTuningInit)
        {
            case "RANDOM":
                weight.copy_(randn(weight.shape, ScalarType.Float32, generator: generator)); // torch.nn.Embedding's N(0, 1)
                break;
            case "SAMPLE_VOCAB":
                weight.copy_(wordEmbeddings.index_select(0, randint(0, vocab, new long[] { NumVirtualTokens }, generator: generator)));
                break;
            default:
                var ids = FitToLength(InitTokenIds ?? throw new ConfigurationException(
                    "prompt_tuning_init TEXT needs the init text's token ids: call WithTokenizer(tokenizer) on the config (the CLI does) or set InitTokenIds"),
                    NumVirtualTokens);
                if (ids.Where(i => i < 0 || i >= vocab).Select(i => (int?)i).FirstOrDefault() is { } bad) throw new ConfigurationException($"init token id {bad} is outside the model's vocabulary (0..{vocab - 1}): the tokenizer does not match the model");
                weight.copy_(wordEmbeddings.index_select(0, tensor(ids.Select(i => (long)i).ToArray(), device: wordEmbeddings.device)));
                break;
        }
    }

    /// <summary>PEFT's fit of the init ids to the virtual tokens: ids[:n] when longer, ids * ceil(n / len) then [:n] when shorter.</summary>
    public static IReadOnlyList<int> FitToLength(IReadOnlyList<int> ids, int length)
    {
        if (ids.Count == 0) throw new ConfigurationException("prompt_tuning_init_text gives no tokens: give a non-empty text");
        int reps = (length + ids.Count - 1) / ids.Count;
        return Enumerable.Repeat(ids, reps).SelectMany(x => x).Take(length).ToList();
    }

    /// <summary>
    /// The config with the model's dimensions, as PEFT writes it after get_peft_model. task_type is always written:
    /// without it PEFT loads a plain PeftModel, which never feeds the virtual tokens in.
    /// </summary>
    public override AdapterConfig ForSave(AdapterRecord record, bool forResume) =>
        Attached<PromptEmbedding>(record).Config with { BaseModelNameOrPath = BaseModelNameOrPath, InferenceMode = InferenceMode, TaskType = TaskType ?? "CAUSAL_LM" };

    /// <summary>The single tensor prompt_embeddings [n, hidden], as PEFT saves it.</summary>
    public override IDictionary<string, Tensor> SavedTensors(AdapterRecord record, IDictionary<string, Tensor> byKey, bool forResume) =>
        new Dictionary<string, Tensor> { [SavedKey] = Attached<PromptEmbedding>(record).Weight };

    /// <summary>prompt_embeddings is read into the virtual-token table.</summary>
    public override IDictionary<string, Tensor> LoadTargets(AdapterRecord record, IDictionary<string, Tensor> byKey, IReadOnlyCollection<string> fileKeys) =>
        new Dictionary<string, Tensor> { [SavedKey] = Attached<PromptEmbedding>(record).Weight };

    /// <summary>
    /// Reads adapter_config.json (PEFT's PromptTuningConfig); keys not used are added to <paramref name="ignored"/>.
    /// </summary>
    /// <exception cref="ConfigurationException">num_virtual_tokens is missing or a value is invalid.</exception>
    /// <exception cref="InvalidFileFormatException">A value has the wrong JSON type.</exception>
    public static PromptTuningConfig FromJson(JsonReading j, List<string> ignored) => Read(new PromptTuningConfig
    {
        PromptTuningInit = j.String("prompt_tuning_init") ?? "RANDOM",
        PromptTuningInitText = j.String("prompt_tuning_init_text"),
        TokenizerNameOrPath = j.String("tokenizer_name_or_path"),
        TokenizerKwargs = Raw(j, "tokenizer_kwargs"),
    }, j, KnownKeys, ignored);

    /// <inheritdoc/>
    public override JsonObject ToJson() => WithSharedFieldsSorted(new JsonObject
    {
        ["prompt_tuning_init"] = PromptTuningInit,
        ["prompt_tuning_init_text"] = PromptTuningInitText,
        // PEFT refuses a TEXT config without a tokenizer: name the base model's, whose tokenizer made the ids.
        ["tokenizer_name_or_path"] = TokenizerNameOrPath ?? (PromptTuningInit == "TEXT" ? BaseModelNameOrPath : null),
        ["tokenizer_kwargs"] = TokenizerKwargs?.DeepClone(),
    });
}
