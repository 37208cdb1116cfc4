using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;
using Linear = PeftSharp.Nn.Linear;

namespace PeftSharp.Adapters.Ia3;

/// <summary>
/// IA3 (Liu et al. 2022, "(IA)^3") with PEFT's IA3Config fields: target_modules, feedforward_modules (a subset of the
/// targets whose input, not output, is scaled), init_ia3_weights, fan_in_fan_out (false only) and the shared fields.
/// </summary>
public sealed record Ia3Config : AdapterConfig
{
    /// <inheritdoc/>
    public override string PeftType => "IA3";

    /// <summary>PEFT's defaults for Llama-family models (TRANSFORMERS_MODELS_TO_IA3_*_MAPPING).</summary>
    public static readonly IReadOnlyList<string> LlamaTargets = new[] { "k_proj", "v_proj", "down_proj" };
    /// <summary>PEFT's default feedforward_modules for Llama-family models: down_proj, whose input is scaled.</summary>
    public static readonly IReadOnlyList<string> LlamaFeedForward = new[] { "down_proj" };

    /// <summary>Names (suffix match) of the targets whose input is scaled, or null with <see cref="FeedForwardRegex"/>.</summary>
    public IReadOnlyList<string>? FeedForwardModules { get; init; }
    /// <summary>A regex that must match a feed-forward module's full name (PEFT's string form).</summary>
    public string? FeedForwardRegex { get; init; }
    /// <summary>true: the vectors start at ones (the adapter is the identity); false: standard normal, as PEFT.</summary>
    public bool InitIa3Weights { get; init; } = true;

    /// <summary>
    /// The adapter_config.json keys an IA3 config may carry; others are reported as ignored when reading.
    /// </summary>
    public static readonly HashSet<string> KnownKeys = new(CommonKeys) { "feedforward_modules", "init_ia3_weights", "fan_in_fan_out" };

    /// <inheritdoc/>
    public override string Describe() =>
        $"IA3, targets {Names(TargetModules, TargetRegex)} (feedforward: {Names(FeedForwardModules, FeedForwardRegex)}), init_ia3_weights {InitIa3Weights.ToString().ToLowerInvariant()}";

    static string Names(IReadOnlyList<string>? names, string? regex) => regex ?? (names is null ? "none" : string.Join(", ", names));

    /// <inheritdoc/>
    public override Ia3Config Validate(string source = "IA3 config")
    {
        ValidateTargets(source, "[\"k_proj\", \"v_proj\", \"down_proj\"]");
        if (FeedForwardModules is { } ff && TargetModules is { } targets && ff.FirstOrDefault(f => !targets.Contains(f)) is { } stray)
            throw new ConfigurationException(
                $"{source}: feedforward_modules must be a subset of target_modules, but '{stray}' is not a target; add it to target_modules or remove it from feedforward_modules");
        ValidateBias(source);
        return this;
    }

    /// <summary>
    /// Whether the module at <paramref name="modulePath"/> is a feed-forward target (its input is scaled rather than
    /// its output).
    /// </summary>
    public bool IsFeedForward(string modulePath) => TargetMatcher.NameMatches(modulePath, FeedForwardModules, FeedForwardRegex);

    /// <summary>
    /// Attaches an <see cref="Ia3Linear"/> to every targeted Linear, input-side for feed-forward modules.
    /// </summary>
    /// <exception cref="ConfigurationException">A target is not a Linear layer, or nothing matches.</exception>
    public override void Inject(AdapterRecord record, nn.Module model, Generator? generator)
    {
        foreach (var (path, l) in TargetMatcher.SelectLinears(model, this, "IA3"))
        {
            record.Layers.Add(new AttachedAdapter(path, l, new Ia3Linear(l, record.Name, IsFeedForward(path), InitIa3Weights, generator)));
        }
    }

    /// <summary>
    /// Reads adapter_config.json (PEFT's IA3Config); keys not used are added to <paramref name="ignored"/>.
    /// </summary>
    /// <exception cref="ConfigurationException">fan_in_fan_out is true, or a value is invalid.</exception>
    /// <exception cref="InvalidFileFormatException">A value has the wrong JSON type.</exception>
    public static Ia3Config FromJson(JsonReading j, List<string> ignored)
    {
        AddIgnoredKeys(j, KnownKeys, ignored);
        if (j.Bool("fan_in_fan_out", false))
            throw new ConfigurationException($"{j.Source}: fan_in_fan_out=true (GPT-2 Conv1D layers) is not supported by the Llama-family models here");
        var (ff, ffRegex) = NamesOrRegex(j, "feedforward_modules");
        var config = (Ia3Config)new Ia3Config
        {
            FeedForwardModules = ff,
            FeedForwardRegex = ffRegex,
            InitIa3Weights = j.Bool("init_ia3_weights", true),
        }.WithCommonFields(j);
        return config.Validate(j.Source);
    }

    /// <inheritdoc/>
    public override JsonObject ToJson()
    {
        var o = new JsonObject
        {
            ["fan_in_fan_out"] = false,
            ["feedforward_modules"] = FeedForwardRegex is not null ? JsonValue.Create(FeedForwardRegex)
                : FeedForwardModules is null ? null : new JsonArray(FeedForwardModules.Select(n => (JsonNode)n!).ToArray()),
            ["init_ia3_weights"] = InitIa3Weights,
        };
        WriteCommonFields(o);
        // PEFT's IA3Config has no layer selection: write those keys only when they are used.
        if (LayersToTransform is null) o.Remove("layers_to_transform");
        if (LayersPattern is null) o.Remove("layers_pattern");
        return Sorted(o);
    }
}
