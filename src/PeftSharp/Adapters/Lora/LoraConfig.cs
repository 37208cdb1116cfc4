using System.Text.Json;
using System.Text.Json.Nodes;
using PeftSharp.Nn;

using TorchSharp;
using static TorchSharp.torch;
using Embedding = PeftSharp.Nn.Embedding;
using Linear = PeftSharp.Nn.Linear;

namespace PeftSharp.Adapters.Lora;

/// <summary>
/// LoRA's configuration with PEFT's field names and defaults, so adapter_config.json files move between PEFT and us.
/// </summary>
public sealed record LoraConfig : AdapterConfig
{
    public override string PeftType => "LORA";
    public int R { get; init; } = 8;
    public double LoraAlpha { get; init; } = 8;
    public double LoraDropout { get; init; }
    public IReadOnlyDictionary<string, int> RankPattern { get; init; } = new Dictionary<string, int>();
    public IReadOnlyDictionary<string, double> AlphaPattern { get; init; } = new Dictionary<string, double>();
    /// <summary>"true" (Kaiming-uniform A, zero B), "gaussian" (normal A with std 1/r, zero B) or "false" (both random).</summary>
    public string InitLoraWeights { get; init; } = "true";
    public bool UseRslora { get; init; }
    public bool UseDora { get; init; }

    public static readonly HashSet<string> KnownKeys = new(CommonKeys)
    {
        "r", "lora_alpha", "lora_dropout", "rank_pattern", "alpha_pattern", "bias", "init_lora_weights", "use_rslora", "use_dora",
        "fan_in_fan_out",
    };

    public override string Describe() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"{(UseDora ? "DoRA" : UseRslora ? "rsLoRA" : "LoRA")}, r {R}, lora_alpha {LoraAlpha}, dropout {LoraDropout}, bias {Bias}");

    public override LoraConfig Validate(string source = "LoRA config")
    {
        if (R <= 0) throw new ConfigurationException($"{source}: r must be a positive integer, found {R}");
        if (double.IsNaN(LoraAlpha) || LoraAlpha <= 0) throw new ConfigurationException($"{source}: lora_alpha must be positive, found {LoraAlpha}");
        if (double.IsNaN(LoraDropout) || LoraDropout < 0 || LoraDropout >= 1) throw new ConfigurationException($"{source}: lora_dropout must be in [0, 1), found {LoraDropout}");
        if (Bias is not ("none" or "all" or "lora_only")) throw new ConfigurationException($"{source}: bias must be none, all or lora_only, found '{Bias}'");
        if (InitLoraWeights is not ("true" or "false" or "gaussian"))
            throw new ConfigurationException($"{source}: init_lora_weights must be true, false or \"gaussian\", found '{InitLoraWeights}'");
        ValidateTargets(source, "[\"q_proj\", \"v_proj\"]");
        foreach (var (k, v) in RankPattern)
            if (v <= 0) throw new ConfigurationException($"{source}: rank_pattern['{k}'] must be positive, found {v}");
        foreach (var (k, v) in AlphaPattern)
            if (v <= 0 || double.IsNaN(v)) throw new ConfigurationException($"{source}: alpha_pattern['{k}'] must be positive, found {v}");
        return this;
    }

    public override void Inject(AdapterRecord record, nn.Module model, Generator? generator)
    {
        foreach (var (path, module) in TargetMatcher.Select(model, this))
        {
            int rank = TargetMatcher.Pattern(RankPattern, path, R);
            double alpha = TargetMatcher.Pattern(AlphaPattern, path, LoraAlpha);
            object adapter = module switch
            {
                Linear l => new LoraLinear(l, record.Name, rank, alpha, UseRslora, LoraDropout, UseDora, InitLoraWeights, generator),
                Embedding e when !UseDora => new LoraEmbedding(e, record.Name, rank, alpha, UseRslora, InitLoraWeights, generator),
                Embedding => throw new ConfigurationException($"DoRA on embedding layers is not supported ('{path}'): drop it from target_modules or set use_dora=false"),
                _ => throw new ConfigurationException($"'{path}' cannot carry a LoRA adapter"),
            };
            record.Layers.Add(new AttachedAdapter(path, module, adapter));
        }
    }

    /// <summary>Reads adapter_config.json. Keys PEFT has that we do not use are reported in <paramref name="ignored"/>.</summary>
    public static LoraConfig FromJson(JsonReading j, List<string> ignored)
    {
        var peftType = j.String("peft_type") ?? "LORA";
        if (peftType != "LORA")
            throw new ConfigurationException($"{j.Source}: peft_type is '{peftType}', not LORA (this loader reads LoRA adapters)");
        ignored.AddRange(j.Root.EnumerateObject().Select(p => p.Name).Where(n => !KnownKeys.Contains(n) && j.Has(n)));
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
        var config = (LoraConfig)new LoraConfig
        {
            R = j.Int("r", 8),
            LoraAlpha = j.Double("lora_alpha", 8),
            LoraDropout = j.Double("lora_dropout", 0),
            RankPattern = Dict(j, "rank_pattern").ToDictionary(kv => kv.Key, kv => (int)kv.Value),
            AlphaPattern = Dict(j, "alpha_pattern"),
            Bias = j.String("bias") ?? "none",
            InitLoraWeights = init,
            UseRslora = j.Bool("use_rslora", false),
            UseDora = j.Bool("use_dora", false),
        }.WithCommonFields(j);
        return config.Validate(j.Source);
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
    public override JsonObject ToJson()
    {
        var o = new JsonObject
        {
            ["alpha_pattern"] = new JsonObject(AlphaPattern.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
            ["bias"] = Bias,
            ["fan_in_fan_out"] = false,
            ["init_lora_weights"] = InitLoraWeights switch { "true" => true, "false" => false, _ => (JsonNode)InitLoraWeights },
            ["lora_alpha"] = LoraAlpha,
            ["lora_dropout"] = LoraDropout,
            ["r"] = R,
            ["rank_pattern"] = new JsonObject(RankPattern.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
            ["use_dora"] = UseDora,
            ["use_rslora"] = UseRslora,
        };
        WriteCommonFields(o);
        return Sorted(o);
    }
}
