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
    public static readonly IReadOnlyList<string> DefaultTargets = new[] { "o_proj", "down_proj" };
    public static readonly IReadOnlyList<string> NonLinearities = new[] { "relu", "gelu", "tanh", "silu" };

    public BottleneckConfig() => TargetModules = DefaultTargets;

    public override string PeftType => "BOTTLENECK";
    public int AdapterSize { get; init; } = 64;
    public string NonLinearity { get; init; } = "relu";
    public double AdapterDropout { get; init; }
    public bool UseParallelAdapter { get; init; }
    public double Scaling { get; init; } = 1.0;

    public static readonly HashSet<string> KnownKeys = new(CommonKeys)
    {
        "adapter_size", "non_linearity", "adapter_dropout", "use_parallel_adapter", "scaling",
    };

    public override string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"bottleneck adapter ({(UseParallelAdapter ? $"parallel, scaling {Scaling}" : "sequential")}), adapter_size {AdapterSize}, {NonLinearity}, dropout {AdapterDropout}");

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

    public override void Inject(AdapterRecord record, nn.Module model, Generator? generator)
    {
        foreach (var (path, l) in TargetMatcher.SelectLinears(model, this, "a bottleneck adapter"))
        {
            var adapter = new BottleneckAdapter(l, record.Name, AdapterSize, NonLinearity, AdapterDropout, UseParallelAdapter, Scaling, generator);
            record.Layers.Add(new AttachedAdapter(path, l, adapter));
        }
    }

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
