using System.Text.Json;
using System.Text.Json.Nodes;

namespace PeftSharp.Adapters.Lora;

/// <summary>
/// LoRA's configuration with PEFT's field names and defaults, so adapter_config.json files move between PEFT and us.
/// </summary>
public sealed record LoraConfig
{
    public int R { get; init; } = 8;
    public double LoraAlpha { get; init; } = 8;
    public double LoraDropout { get; init; }
    /// <summary>Target names (matched as a suffix after a dot), or null with <see cref="TargetRegex"/>.</summary>
    public IReadOnlyList<string>? TargetModules { get; init; }
    /// <summary>A regex that must match a module's full name (PEFT's string form of target_modules); "all-linear" is special.</summary>
    public string? TargetRegex { get; init; }
    public IReadOnlyList<string>? ExcludeModules { get; init; }
    public string? ExcludeRegex { get; init; }
    public IReadOnlyList<int>? LayersToTransform { get; init; }
    public string? LayersPattern { get; init; }
    public IReadOnlyDictionary<string, int> RankPattern { get; init; } = new Dictionary<string, int>();
    public IReadOnlyDictionary<string, double> AlphaPattern { get; init; } = new Dictionary<string, double>();
    /// <summary>"none", "all" or "lora_only".</summary>
    public string Bias { get; init; } = "none";
    public IReadOnlyList<string> ModulesToSave { get; init; } = Array.Empty<string>();
    /// <summary>"true" (Kaiming-uniform A, zero B), "gaussian" (normal A with std 1/r, zero B) or "false" (both random).</summary>
    public string InitLoraWeights { get; init; } = "true";
    public bool UseRslora { get; init; }
    public bool UseDora { get; init; }
    public string? TaskType { get; init; } = "CAUSAL_LM";
    public string? BaseModelNameOrPath { get; init; }
    public bool InferenceMode { get; init; }

    public const string AllLinear = "all-linear";

    public static readonly HashSet<string> KnownKeys = new()
    {
        "r", "lora_alpha", "lora_dropout", "target_modules", "exclude_modules", "layers_to_transform", "layers_pattern",
        "rank_pattern", "alpha_pattern", "bias", "modules_to_save", "init_lora_weights", "use_rslora", "use_dora",
        "task_type", "base_model_name_or_path", "inference_mode", "peft_type", "fan_in_fan_out", "revision",
        "auto_mapping", "peft_version",
    };

    public LoraConfig Validate(string source = "LoRA config")
    {
        if (R <= 0) throw new ConfigurationException($"{source}: r must be a positive integer, found {R}");
        if (double.IsNaN(LoraAlpha) || LoraAlpha <= 0) throw new ConfigurationException($"{source}: lora_alpha must be positive, found {LoraAlpha}");
        if (double.IsNaN(LoraDropout) || LoraDropout < 0 || LoraDropout >= 1) throw new ConfigurationException($"{source}: lora_dropout must be in [0, 1), found {LoraDropout}");
        if (Bias is not ("none" or "all" or "lora_only")) throw new ConfigurationException($"{source}: bias must be none, all or lora_only, found '{Bias}'");
        if (InitLoraWeights is not ("true" or "false" or "gaussian"))
            throw new ConfigurationException($"{source}: init_lora_weights must be true, false or \"gaussian\", found '{InitLoraWeights}'");
        if (TargetModules is null && TargetRegex is null)
            throw new ConfigurationException($"{source}: target_modules is required (names such as [\"q_proj\", \"v_proj\"], a regex, or \"all-linear\")");
        foreach (var (k, v) in RankPattern)
            if (v <= 0) throw new ConfigurationException($"{source}: rank_pattern['{k}'] must be positive, found {v}");
        foreach (var (k, v) in AlphaPattern)
            if (v <= 0 || double.IsNaN(v)) throw new ConfigurationException($"{source}: alpha_pattern['{k}'] must be positive, found {v}");
        return this;
    }

    /// <summary>Reads adapter_config.json. Keys PEFT has that we do not use are reported in <paramref name="ignored"/>.</summary>
    public static LoraConfig FromJson(JsonReading j, List<string> ignored)
    {
        var peftType = j.String("peft_type") ?? "LORA";
        if (peftType != "LORA")
            throw new ConfigurationException($"{j.Source}: peft_type is '{peftType}', not LORA (this loader reads LoRA adapters)");
        ignored.AddRange(j.Root.EnumerateObject().Select(p => p.Name).Where(n => !KnownKeys.Contains(n) && j.Has(n)));
        var (targets, targetRegex) = NamesOrRegex(j, "target_modules");
        var (exclude, excludeRegex) = NamesOrRegex(j, "exclude_modules");
        var init = j.Root.TryGetProperty("init_lora_weights", out var iv)
            ? iv.ValueKind switch
            {
                JsonValueKind.True => "true",
                JsonValueKind.False => "false",
                JsonValueKind.String => iv.GetString()!,
                _ => "true",
            }
            : "true";
        if (j.Bool("fan_in_fan_out", false))
            throw new ConfigurationException($"{j.Source}: fan_in_fan_out=true (GPT-2 Conv1D layers) is not supported by the Llama-family models here");
        return new LoraConfig
        {
            R = j.Int("r", 8),
            LoraAlpha = j.Double("lora_alpha", 8),
            LoraDropout = j.Double("lora_dropout", 0),
            TargetModules = targets,
            TargetRegex = targetRegex,
            ExcludeModules = exclude,
            ExcludeRegex = excludeRegex,
            LayersToTransform = j.Has("layers_to_transform") ? j.Ints("layers_to_transform") : null,
            LayersPattern = j.Has("layers_pattern") ? NamesOrRegex(j, "layers_pattern").Names?.FirstOrDefault() ?? j.String("layers_pattern") : null,
            RankPattern = Dict(j, "rank_pattern").ToDictionary(kv => kv.Key, kv => (int)kv.Value),
            AlphaPattern = Dict(j, "alpha_pattern"),
            Bias = j.String("bias") ?? "none",
            ModulesToSave = NamesOrRegex(j, "modules_to_save").Names ?? Array.Empty<string>(),
            InitLoraWeights = init,
            UseRslora = j.Bool("use_rslora", false),
            UseDora = j.Bool("use_dora", false),
            TaskType = j.String("task_type"),
            BaseModelNameOrPath = j.String("base_model_name_or_path"),
            InferenceMode = j.Bool("inference_mode", false),
        }.Validate(j.Source);
    }

    static (IReadOnlyList<string>? Names, string? Regex) NamesOrRegex(JsonReading j, string key)
    {
        if (!j.Has(key)) return (null, null);
        var v = j.Root.GetProperty(key);
        if (v.ValueKind == JsonValueKind.String) return (null, v.GetString());
        if (v.ValueKind == JsonValueKind.Array && v.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String))
            return (v.EnumerateArray().Select(e => e.GetString()!).ToList(), null);
        throw new InvalidFileFormatException(j.Source, $"'{key}' must be a list of module names or a regex string");
    }

    static Dictionary<string, double> Dict(JsonReading j, string key)
    {
        var o = j.Object(key);
        if (o is null) return new();
        return o.Root.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.ValueKind == JsonValueKind.Number
            ? p.Value.GetDouble()
            : throw new InvalidFileFormatException(j.Source, $"'{key}.{p.Name}' must be a number"));
    }

    /// <summary>adapter_config.json with PEFT's fields (sorted, as PEFT writes them).</summary>
    public JsonObject ToJson()
    {
        JsonNode? List(IReadOnlyList<string>? names, string? regex) =>
            regex is not null ? JsonValue.Create(regex) : names is null ? null : new JsonArray(names.Select(n => (JsonNode)n!).ToArray());
        var o = new JsonObject
        {
            ["alpha_pattern"] = new JsonObject(AlphaPattern.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
            ["base_model_name_or_path"] = BaseModelNameOrPath,
            ["bias"] = Bias,
            ["exclude_modules"] = List(ExcludeModules, ExcludeRegex),
            ["fan_in_fan_out"] = false,
            ["inference_mode"] = InferenceMode,
            ["init_lora_weights"] = InitLoraWeights switch { "true" => true, "false" => false, _ => (JsonNode)InitLoraWeights },
            ["layers_pattern"] = LayersPattern,
            ["layers_to_transform"] = LayersToTransform is null ? null : new JsonArray(LayersToTransform.Select(i => (JsonNode)i).ToArray()),
            ["lora_alpha"] = LoraAlpha,
            ["lora_dropout"] = LoraDropout,
            ["modules_to_save"] = ModulesToSave.Count == 0 ? null : new JsonArray(ModulesToSave.Select(n => (JsonNode)n!).ToArray()),
            ["peft_type"] = "LORA",
            ["r"] = R,
            ["rank_pattern"] = new JsonObject(RankPattern.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
            ["revision"] = null,
            ["target_modules"] = List(TargetModules, TargetRegex),
            ["task_type"] = TaskType,
            ["use_dora"] = UseDora,
            ["use_rslora"] = UseRslora,
        };
        return o;
    }
}
