using System.Globalization;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;
using Linear = PeftSharp.Nn.Linear;

namespace PeftSharp.Adapters.Bottleneck;

/// <summary>
/// Bottleneck adapters (our peft_type "BOTTLENECK"; Houlsby et al. 2019, with He et al. 2022's parallel variant at
/// Linear level as LLM-Adapters): target_modules (default o_proj and down_proj: after attention and after the FFN),
/// adapter_size, non_linearity, adapter_dropout, use_parallel_adapter and scaling (used by the parallel variant).
/// </summary>
public sealed record BottleneckConfig : AdapterConfig
{
    /// <summary>
    /// The targets when none are given: o_proj and down_proj, so one adapter follows attention and one the
    /// feed-forward.
    /// </summary>
    public static readonly IReadOnlyList<string> DefaultTargets = new[] { "o_proj", "down_proj" };
    /// <summary>The accepted non_linearity values.</summary>
    public static readonly IReadOnlyList<string> NonLinearities = new[] { "relu", "gelu", "tanh", "silu" };

    /// <summary>A config with the default targets (<see cref="DefaultTargets"/>) and defaults below.</summary>
    public BottleneckConfig() => TargetModules = DefaultTargets;

    /// <inheritdoc/>
    public override string PeftType => "BOTTLENECK";
    /// <summary>Bottleneck width (adapter_size): the down projection's outputs; default 64, positive.</summary>
    public int AdapterSize { get; init; } = 64;
    /// <summary>Activation between the projections (non_linearity): relu (default), gelu, tanh or silu.</summary>
    public string NonLinearity { get; init; } = "relu";
    /// <summary>
    /// Dropout probability on the adapter's input while training (adapter_dropout); default 0, in [0, 1).
    /// </summary>
    public double AdapterDropout { get; init; }
    /// <summary>
    /// Parallel placement on the layer's input (He et al. 2022) instead of sequential on its output
    /// (use_parallel_adapter); default false.
    /// </summary>
    public bool UseParallelAdapter { get; init; }
    /// <summary>Output factor of the parallel variant (scaling); default 1, finite.</summary>
    public double Scaling { get; init; } = 1.0;

    /// <summary>
    /// The adapter_config.json keys a bottleneck config may carry; others are reported as ignored when reading.
    /// </summary>
    public static readonly HashSet<string> KnownKeys = new(CommonKeys)
    {
        "adapter_size", "non_linearity", "adapter_dropout", "use_parallel_adapter", "scaling",
    };

    /// <inheritdoc/>
    public override string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"bottleneck adapter ({(UseParallelAdapter ? $"parallel, scaling {Scaling}" : "sequential")}), adapter_size {AdapterSize}, {NonLinearity}, dropout {AdapterDropout}");

    /// <inheritdoc/>
    public override BottleneckConfig Validate(string source = "bottleneck config")
    {
        if (AdapterSize <= 0) throw new ConfigurationException($"{source}: adapter_size must be a positive integer, found {AdapterSize}");
        if (!NonLinearities.Contains(NonLinearity))
            throw new ConfigurationException($"{source}: non_linearity must be one of {string.Join(", ", NonLinearities)}, found '{NonLinearity}'");
        if (double.IsNaN(AdapterDropout) || AdapterDropout < 0 || AdapterDropout >= 1)
            throw new ConfigurationException($"{source}: adapter_dropout must be in [0, 1), found {AdapterDropout}");
        if (!double.IsFinite(Scaling)) throw new ConfigurationException($"{source}: scaling must be a finite number, found {Scaling}");
        ValidateBias(source);
        ValidateTargets(source, "[\"o_proj\", \"down_proj\"]");
        return this;
    }

    /// <summary>Attaches a <see cref="BottleneckAdapter"/> to every targeted Linear.</summary>
    /// <exception cref="ConfigurationException">A target is not a Linear layer, or nothing matches.</exception>
    public override void Inject(AdapterRecord record, nn.Module model, Generator? generator)
    {
        foreach (var (path, l) in TargetMatcher.SelectLinears(model, this, "a bottleneck adapter"))
        {
            var adapter = new BottleneckAdapter(l, record.Name, AdapterSize, NonLinearity, AdapterDropout, UseParallelAdapter, Scaling, generator);
            record.Layers.Add(new AttachedAdapter(path, l, adapter));
        }
    }

    /// <summary>
    /// Reads adapter_config.json (peft_type BOTTLENECK); keys not used are added to <paramref name="ignored"/>.
    /// </summary>
    /// <exception cref="InvalidFileFormatException">A value has the wrong JSON type.</exception>
    /// <exception cref="ConfigurationException">A value is out of range.</exception>
    public static BottleneckConfig FromJson(JsonReading j, List<string> ignored)
    {
        AddIgnoredKeys(j, KnownKeys, ignored);
        var config = (BottleneckConfig)new BottleneckConfig
        {
            AdapterSize = j.Int("adapter_size", 64),
            NonLinearity = j.String("non_linearity") ?? "relu",
            AdapterDropout = j.Double("adapter_dropout", 0),
            UseParallelAdapter = j.Bool("use_parallel_adapter", false),
            Scaling = j.Double("scaling", 1.0),
        }.WithCommonFields(j);
        if (config.TargetModules is null && config.TargetRegex is null) config = config with { TargetModules = DefaultTargets };
        return config.Validate(j.Source);
    }

    /// <inheritdoc/>
    public override JsonObject ToJson()
    {
        var o = new JsonObject
        {
            ["adapter_dropout"] = AdapterDropout,
            ["adapter_size"] = AdapterSize,
            ["non_linearity"] = NonLinearity,
            ["scaling"] = Scaling,
            ["use_parallel_adapter"] = UseParallelAdapter,
        };
        WriteCommonFields(o);
        return Sorted(o);
    }
}
