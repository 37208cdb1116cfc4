using System.Text.Json.Nodes;
using PeftSharp.Nn;
using static TorchSharp.torch;

namespace PeftSharp.Adapters;

/// <summary>
/// What prompt tuning and prefix tuning share (PEFT's PromptLearningConfig): a number of virtual tokens and the model
/// dimensions they are shaped by. The dimensions may be left null: they are taken from the model when the adapter is
/// created, and written into the saved config, as PEFT does. The trainable tensors live in one encoder module on the
/// model root (slot <c>prompt_encoder</c>), saved under the single key <see cref="SavedKey"/>.
/// </summary>
public abstract record PromptLearningConfig : AdapterConfig
{
    /// <summary>The key PEFT saves a prompt-learning adapter's tensor under.</summary>
    public const string SavedKey = "prompt_embeddings";
    /// <summary>The slot the encoder is registered in on the model root.</summary>
    public const string Slot = "prompt_encoder";

    /// <summary>
    /// Number of trainable virtual tokens (PEFT's num_virtual_tokens); default 20, positive, required in
    /// adapter_config.json.
    /// </summary>
    public int NumVirtualTokens { get; init; } = 20;
    /// <summary>
    /// Width of one virtual token (PEFT's token_dim): the hidden size for prompt tuning, kv_heads x head_dim for prefix
    /// tuning. Null = taken from the model; a value that differs from the model's is refused.
    /// </summary>
    public int? TokenDim { get; init; }
    /// <summary>
    /// PEFT's num_attention_heads (the key/value heads for prefix tuning); null = taken from the model.
    /// </summary>
    public int? NumAttentionHeads { get; init; }
    /// <summary>Number of decoder layers (PEFT's num_layers); null = taken from the model.</summary>
    public int? NumLayers { get; init; }
    /// <summary>1 for decoder-only models (2 would be an encoder-decoder's); only 1 is supported.</summary>
    public int NumTransformerSubmodules { get; init; } = 1;

    /// <summary>False: prompt and prefix tuning attach to the model as a whole, not to target modules.</summary>
    public override bool UsesTargetModules => false;

    /// <summary>The adapter_config.json keys every prompt-learning config may carry besides the common ones.</summary>
    protected static readonly string[] SharedKeys =
        { "num_virtual_tokens", "token_dim", "num_attention_heads", "num_layers", "num_transformer_submodules" };

    /// <summary>Checks the shared fields.</summary>
    /// <param name="source">Names the config in messages.</param>
    /// <exception cref="ConfigurationException">num_virtual_tokens or a dimension is not positive,
    /// num_transformer_submodules is not 1, or modules_to_save is set.</exception>
    protected void ValidateShared(string source)
    {
        if (NumVirtualTokens <= 0) throw new ConfigurationException($"{source}: num_virtual_tokens must be a positive integer, found {NumVirtualTokens}");
        if (NumTransformerSubmodules != 1)
            throw new ConfigurationException($"{source}: num_transformer_submodules must be 1 for a decoder-only model, found {NumTransformerSubmodules}");
        foreach (var (key, v) in new[] { ("token_dim", TokenDim), ("num_attention_heads", NumAttentionHeads), ("num_layers", NumLayers) })
            if (v is <= 0) throw new ConfigurationException($"{source}: {key} must be a positive integer, found {v}");
        if (ModulesToSave.Count > 0)
            throw new ConfigurationException($"{source}: modules_to_save is not supported with {PeftType}: train the virtual tokens only");
    }

    /// <summary>The shared fields from adapter_config.json (and the fields every method has).</summary>
    protected PromptLearningConfig WithSharedFields(JsonReading j) => (PromptLearningConfig)((PromptLearningConfig)WithCommonFields(j) with
    {
        NumVirtualTokens = j.Has("num_virtual_tokens") ? j.RequireInt("num_virtual_tokens")
            : throw new ConfigurationException($"{j.Source}: num_virtual_tokens is required"),
        TokenDim = j.Has("token_dim") ? j.RequireInt("token_dim") : null,
        NumAttentionHeads = j.Has("num_attention_heads") ? j.RequireInt("num_attention_heads") : null,
        NumLayers = j.Has("num_layers") ? j.RequireInt("num_layers") : null,
        NumTransformerSubmodules = j.Int("num_transformer_submodules", 1),
    });

    /// <summary>
    /// <paramref name="own"/> (the method's fields, read from <paramref name="j"/>) with the shared fields, validated;
    /// keys outside <paramref name="known"/> are reported in <paramref name="ignored"/>.
    /// </summary>
    protected static T Read<T>(T own, JsonReading j, IReadOnlySet<string> known, List<string> ignored) where T : PromptLearningConfig
    {
        ignored.AddRange(j.Root.EnumerateObject().Select(p => p.Name).Where(n => !known.Contains(n) && j.Has(n)));
        return (T)own.WithSharedFields(j).Validate(j.Source);
    }

    /// <summary>A JSON value kept as read (null when absent).</summary>
    protected static JsonNode? Raw(JsonReading j, string key) =>
        j.Root.TryGetProperty(key, out var v) ? JsonNode.Parse(v.GetRawText()) : null;

    /// <summary>adapter_config.json: the method's fields in <paramref name="own"/> plus the shared ones, sorted as PEFT writes them.</summary>
    protected JsonObject WithSharedFieldsSorted(JsonObject own)
    {
        WriteSharedFields(own);
        return Sorted(own);
    }

    void WriteSharedFields(JsonObject o)
    {
        o["num_virtual_tokens"] = NumVirtualTokens;
        o["token_dim"] = TokenDim;
        o["num_attention_heads"] = NumAttentionHeads;
        o["num_layers"] = NumLayers;
        o["num_transformer_submodules"] = NumTransformerSubmodules;
        WriteCommonFields(o);
    }

    /// <summary>Checks a dimension given in the config against the model's; returns the model's.</summary>
    protected static int Resolve(int? given, int model, string key, string source)
    {
        if (given is { } g && g != model)
            throw new ConfigurationException($"{source}: {key} is {g} but the model needs {model}: the adapter was made for a different base model (or drop {key} to take it from the model)");
        return model;
    }

    /// <summary>The model's attention layers with a prefix slot, in layer order.</summary>
    protected static List<IPrefixHost> PrefixHosts(nn.Module model) =>
        model.modules().OfType<IPrefixHost>().OrderBy(h => h.LayerIndex).ToList();

    /// <summary>Registers <paramref name="encoder"/> under prompt_encoder.&lt;adapter&gt; on the model root.</summary>
    protected static void Register(nn.Module root, string adapter, nn.Module encoder) => ModuleSlots.On(root, Slot).AddModule(adapter, encoder);

    /// <summary>Removes the adapter's encoder from the model root (a no-op when it is already gone).</summary>
    public static void Unregister(nn.Module root, string adapter) => ModuleSlots.RemoveFrom(root, adapter, Slot);

    /// <summary>The first attached adapter of type <typeparamref name="T"/>, or a clear error.</summary>
    protected static T Attached<T>(AdapterRecord record) => record.Layers.Select(l => l.Adapter).OfType<T>().FirstOrDefault()
        ?? throw new PeftSharpException($"adapter '{record.Name}' has no {typeof(T).Name} attached");
}
