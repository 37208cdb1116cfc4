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
    /// <inheritdoc/>
    public override string PeftType => "LORA";
    /// <summary>
    /// Rank of the update (PEFT's r): the inner dimension of A (r x in) and B (out x r); default 8, positive.
    /// </summary>
    public int R { get; init; } = 8;
    /// <summary>
    /// Scaling numerator (PEFT's lora_alpha): the update is multiplied by lora_alpha / r (lora_alpha / √r with rsLoRA).
    /// Default 8, positive.
    /// </summary>
    public double LoraAlpha { get; init; } = 8;
    /// <summary>
    /// Dropout probability on the adapter's input while training (PEFT's lora_dropout); default 0, in [0, 1).
    /// </summary>
    public double LoraDropout { get; init; }
    /// <summary>
    /// Per-module ranks overriding <see cref="R"/> (PEFT's rank_pattern): each key is a regex matched against the end
    /// of the module name after a dot, e.g. "layers.0.self_attn.q_proj"; the first match wins. Empty by default.
    /// </summary>
    public IReadOnlyDictionary<string, int> RankPattern { get; init; } = new Dictionary<string, int>();
    /// <summary>
    /// Per-module alphas overriding <see cref="LoraAlpha"/> (PEFT's alpha_pattern), keyed like <see
    /// cref="RankPattern"/>. Empty by default.
    /// </summary>
    public IReadOnlyDictionary<string, double> AlphaPattern { get; init; } = new Dictionary<string, double>();
    /// <summary>"true" (Kaiming-uniform A, zero B), "gaussian" (normal A with std 1/r, zero B) or "false" (both random).</summary>
    public string InitLoraWeights { get; init; } = "true";
    /// <summary>
    /// Rank-stabilised LoRA (PEFT's use_rslora): scale by lora_alpha / √r instead of lora_alpha / r. Default false.
    /// </summary>
    public bool UseRslora { get; init; }
    /// <summary>
    /// DoRA (PEFT's use_dora): a trained per-row magnitude times the direction of W + s·B·A. Linear layers only;
    /// default false.
    /// </summary>
    public bool UseDora { get; init; }

    /// <summary>
    /// The adapter_config.json keys a LoRA config may carry; others are reported as ignored when reading.
    /// </summary>
    public static readonly HashSet<string> KnownKeys = new(CommonKeys)
    {
        "r", "lora_alpha", "lora_dropout", "rank_pattern", "alpha_pattern", "bias", "init_lora_weights", "use_rslora", "use_dora",
        "fan_in_fan_out",
    };

    /// <inheritdoc/>
    public override string Describe() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"{(UseDora ? "DoRA" : UseRslora ? "rsLoRA" : "LoRA")}, r {R}, lora_alpha {LoraAlpha}, dropout {LoraDropout}, bias {Bias}");

    /// <inheritdoc/>
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

    /// <summary>
    /// Attaches a <see cref="LoraLinear"/> to every targeted Linear and a <see cref="LoraEmbedding"/> to every targeted
    /// Embedding, with the rank and alpha from the patterns.
    /// </summary>
    /// <exception cref="ConfigurationException">A target cannot carry LoRA, DoRA meets an embedding, or nothing
    /// matches.</exception>
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
