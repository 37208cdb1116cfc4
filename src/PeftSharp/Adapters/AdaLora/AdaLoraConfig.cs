using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;
using Linear = PeftSharp.Nn.Linear;

namespace PeftSharp.Adapters.AdaLora;

/// <summary>
/// AdaLoRA's configuration with PEFT's field names and defaults (peft_type ADALORA). A trained adapter is saved with its
/// rank_pattern ("&lt;module path&gt;.lora_E" -> kept ranks) and only the kept ranks' tensors; loading such a folder builds
/// each layer with that many ranks (ranknum stays init_r, so outputs are unchanged).
/// </summary>
public sealed record AdaLoraConfig : AdapterConfig
{
    /// <inheritdoc/>
    public override string PeftType => "ADALORA";

    /// <summary>
    /// The adapter_config.json keys an AdaLoRA config may carry; others are reported as ignored when reading.
    /// </summary>
    public static readonly HashSet<string> KnownKeys = new(CommonKeys)
    {
        "init_r", "target_r", "tinit", "tfinal", "deltaT", "beta1", "beta2", "orth_reg_weight", "total_step", "rank_pattern",
        "lora_alpha", "lora_dropout", "r", "bias", "init_lora_weights", "fan_in_fan_out", "alpha_pattern", "use_rslora", "use_dora",
    };

    /// <summary>Rank every targeted layer starts with (PEFT's init_r); default 12, positive.</summary>
    public int InitR { get; init; } = 12;
    /// <summary>Average rank per layer the budget shrinks to (PEFT's target_r); default 8, in [0, init_r].</summary>
    public int TargetR { get; init; } = 8;
    /// <summary>Warm-up steps before any rank is pruned (PEFT's tinit); default 0.</summary>
    public int Tinit { get; init; }
    /// <summary>
    /// Final steps with the rank pattern frozen, training only the kept ranks (PEFT's tfinal); default 0.
    /// </summary>
    public int Tfinal { get; init; }
    /// <summary>
    /// Steps between two budget allocations in the pruning phase (PEFT's deltaT); default 1, positive.
    /// </summary>
    public int DeltaT { get; init; } = 1;
    /// <summary>EMA factor of the importance (sensitivity) scores (PEFT's beta1); default 0.85, in (0, 1).</summary>
    public double Beta1 { get; init; } = 0.85;
    /// <summary>EMA factor of the importance uncertainty (PEFT's beta2); default 0.85, in (0, 1).</summary>
    public double Beta2 { get; init; } = 0.85;
    /// <summary>
    /// Weight of the orthogonality regulariser on A and B added to the loss (PEFT's orth_reg_weight); default 0.5, must
    /// be > 0.
    /// </summary>
    public double OrthRegWeight { get; init; } = 0.5;
    /// <summary>The run's optimizer steps; null takes the trainer's total steps when training begins.</summary>
    public int? TotalStep { get; init; }
    /// <summary>Kept ranks by "&lt;module path&gt;.lora_E" (PEFT's saved form), or null before ranks were allocated.</summary>
    public IReadOnlyDictionary<string, bool[]>? RankPattern { get; init; }
    /// <summary>
    /// Scaling numerator s (PEFT's lora_alpha); the update is multiplied by s / ranknum. Default 8; 0 uses the rank.
    /// </summary>
    public double LoraAlpha { get; init; } = 8;
    /// <summary>
    /// Dropout probability on the adapter's input during training (PEFT's lora_dropout); default 0, in [0, 1).
    /// </summary>
    public double LoraDropout { get; init; }
    /// <summary>PEFT's r, unused by AdaLoRA (init_r is the rank); written back as read.</summary>
    public int R { get; init; } = 8;
    /// <summary>
    /// True (default) for AdaLoRA's init (E zero so the adapter starts as a no-op, A and B normal(0, 0.02)); false
    /// leaves all three random normal, as PEFT's init_lora_weights=False.
    /// </summary>
    public bool InitLoraWeights { get; init; } = true;

    /// <summary>The rank_pattern key of the module at <paramref name="path"/>.</summary>
    public static string PatternKey(string path) => path + ".lora_E";

    /// <inheritdoc/>
    public override string Describe()
    {
        var text = string.Create(CultureInfo.InvariantCulture,
            $"AdaLoRA, init_r {InitR} -> target_r {TargetR}, lora_alpha {LoraAlpha}, dropout {LoraDropout}, tinit {Tinit}, tfinal {Tfinal}, deltaT {DeltaT}, total_step {(TotalStep is { } t ? t.ToString(CultureInfo.InvariantCulture) : "from the run")}, orth_reg_weight {OrthRegWeight}");
        if (RankPattern is { Count: > 0 } p)
            text += string.Create(CultureInfo.InvariantCulture, $", rank_pattern keeps {p.Values.Sum(v => v.Count(k => k))} of {p.Values.Sum(v => v.Length)} ranks");
        return text;
    }

    /// <inheritdoc/>
    public override AdaLoraConfig Validate(string source = "AdaLoRA config")
    {
        if (InitR <= 0) throw new ConfigurationException($"{source}: init_r must be a positive integer, found {InitR}");
        if (TargetR < 0 || TargetR > InitR) throw new ConfigurationException($"{source}: target_r must be between 0 and init_r ({InitR}), found {TargetR}");
        if (Tinit < 0) throw new ConfigurationException($"{source}: tinit must be >= 0, found {Tinit}");
        if (Tfinal < 0) throw new ConfigurationException($"{source}: tfinal must be >= 0, found {Tfinal}");
        if (DeltaT <= 0) throw new ConfigurationException($"{source}: deltaT must be a positive integer, found {DeltaT}");
        if (!(Beta1 > 0 && Beta1 < 1)) throw new ConfigurationException($"{source}: beta1 must be in (0, 1), found {Beta1}");
        if (!(Beta2 > 0 && Beta2 < 1)) throw new ConfigurationException($"{source}: beta2 must be in (0, 1), found {Beta2}");
        if (!(OrthRegWeight > 0)) throw new ConfigurationException($"{source}: orth_reg_weight must be greater than 0 (PEFT refuses 0), found {OrthRegWeight}");
        if (TotalStep is { } t)
        {
            if (t <= 0) throw new ConfigurationException($"{source}: total_step must be positive, found {t} (or leave it out to use the run's steps)");
            CheckSchedule(t, Tinit, Tfinal, source);
        }
        if (double.IsNaN(LoraAlpha) || LoraAlpha < 0) throw new ConfigurationException($"{source}: lora_alpha must be >= 0 (0 scales by the rank), found {LoraAlpha}");
        if (double.IsNaN(LoraDropout) || LoraDropout < 0 || LoraDropout >= 1) throw new ConfigurationException($"{source}: lora_dropout must be in [0, 1), found {LoraDropout}");
        if (Bias is not ("none" or "all" or "lora_only")) throw new ConfigurationException($"{source}: bias must be none, all or lora_only, found '{Bias}'");
        ValidateTargets(source, "[\"q_proj\", \"v_proj\"]");
        foreach (var (k, v) in RankPattern ?? new Dictionary<string, bool[]>())
            if (!k.EndsWith(".lora_E", StringComparison.Ordinal) || v.Length != InitR)
                throw new ConfigurationException($"{source}: rank_pattern['{k}'] must be keyed '<module path>.lora_E' and list init_r ({InitR}) booleans, found {v.Length}");
        return this;
    }

    /// <summary>PEFT's rule: the schedule needs a budgeting phase, total_step - tinit - tfinal > 0.</summary>
    public static void CheckSchedule(int totalStep, int tinit, int tfinal, string source)
    {
        if (totalStep - tinit - tfinal <= 0)
            throw new ConfigurationException(
                $"{source}: total_step ({totalStep}) - tinit ({tinit}) - tfinal ({tfinal}) must be > 0 to leave a budgeting phase; decrease tinit/tfinal or train longer");
    }

    /// <summary>
    /// Attaches an <see cref="AdaLoraLinear"/> to every targeted Linear: init_r ranks, or the kept count of a saved
    /// rank_pattern.
    /// </summary>
    /// <exception cref="ConfigurationException">A target is not a Linear layer.</exception>
    public override void Inject(AdapterRecord record, nn.Module model, Generator? generator)
    {
        foreach (var (path, module) in TargetMatcher.Select(model, this))
        {
            if (module is not Linear l) throw new ConfigurationException($"'{path}' cannot carry an AdaLoRA adapter (only Linear layers can): drop it from target_modules");
            int rank = RankPattern is not null && RankPattern.TryGetValue(PatternKey(path), out var keep) ? keep.Count(k => k) : InitR;
            record.Layers.Add(new AttachedAdapter(path, l, new AdaLoraLinear(l, record.Name, rank, InitR, LoraAlpha, LoraDropout, InitLoraWeights, generator)));
        }
    }

    /// <summary>
    /// The orthogonal regulariser and rank allocator of this adapter's layers (<see cref="AdaLoraTraining"/>).
    /// </summary>
    public override IAdapterTraining CreateTraining(AdapterRecord record) => new AdaLoraTraining(this, record.Of<AdaLoraLinear>());

    /// <summary>The pattern the adapter's tensors are in now: the allocator's (keyed by PEFT's "&lt;path&gt;.lora_E"), else the config's.</summary>
    IReadOnlyDictionary<string, bool[]>? CurrentPattern(AdapterRecord record) =>
        (record.Training as AdaLoraTraining)?.Allocator?.RankPattern is { } allocated
            ? allocated.ToDictionary(kv => PatternKey(kv.Key), kv => kv.Value, StringComparer.Ordinal)
            : RankPattern;

    /// <summary>
    /// The saved config carries the allocated rank_pattern. A trainer checkpoint keeps the training form (full ranks,
    /// the dropped ones with E zero, as the layers are now), which is what resume loads back into.
    /// </summary>
    public override AdapterConfig ForSave(AdapterRecord record, bool forResume) =>
        forResume ? this : this with
        {
            RankPattern = CurrentPattern(record),
            TotalStep = TotalStep ?? (record.Training as AdaLoraTraining)?.Allocator?.TotalStep,
        };

    /// <summary>PEFT's get_peft_model_state_dict for AdaLoRA: A, E and B sliced to the kept ranks.</summary>
    public override IDictionary<string, Tensor> SavedTensors(AdapterRecord record, IDictionary<string, Tensor> byKey, bool forResume)
    {
        if (forResume || CurrentPattern(record) is not { } pattern) return byKey;
        var result = new Dictionary<string, Tensor>(byKey, StringComparer.Ordinal);
        foreach (var (path, layer) in record.Of<AdaLoraLinear>())
        {
            // A layer built from a saved pattern already holds only its kept ranks.
            if (!pattern.TryGetValue(PatternKey(path), out var keep) || keep.Length != layer.Rank || keep.All(k => k)) continue;
            var index = tensor(keep.Select((k, i) => (k, i)).Where(x => x.k).Select(x => (long)x.i).ToArray(), ScalarType.Int64, layer.A.device);
            var prefix = byKey.Keys.First(k => k.EndsWith("." + path + ".lora_A", StringComparison.Ordinal))[..^"lora_A".Length];
            result[prefix + "lora_A"] = layer.A.detach().index_select(0, index);
            result[prefix + "lora_E"] = layer.E.detach().index_select(0, index);
            result[prefix + "lora_B"] = layer.B.detach().index_select(1, index);
        }
        return result;
    }

    /// <summary>Reads adapter_config.json. Keys PEFT has that we do not use are reported in <paramref name="ignored"/>.</summary>
    public static AdaLoraConfig FromJson(JsonReading j, List<string> ignored)
    {
        var peftType = j.String("peft_type");
        if (peftType != "ADALORA")
            throw new ConfigurationException($"{j.Source}: peft_type is '{peftType}', not ADALORA (this loader reads AdaLoRA adapters)");
        ignored.AddRange(j.Root.EnumerateObject().Select(p => p.Name).Where(n => !KnownKeys.Contains(n) && j.Has(n)));
        if (j.Bool("fan_in_fan_out", false))
            throw new ConfigurationException($"{j.Source}: fan_in_fan_out=true (GPT-2 Conv1D layers) is not supported by the Llama-family models here");
        if (j.Bool("use_dora", false)) throw new ConfigurationException($"{j.Source}: AdaLoRA does not support use_dora (PEFT refuses it too)");
        var config = (AdaLoraConfig)new AdaLoraConfig
        {
            InitR = j.Int("init_r", 12),
            TargetR = j.Int("target_r", 8),
            Tinit = j.Int("tinit", 0),
            Tfinal = j.Int("tfinal", 0),
            DeltaT = j.Int("deltaT", 1),
            Beta1 = j.Double("beta1", 0.85),
            Beta2 = j.Double("beta2", 0.85),
            OrthRegWeight = j.Double("orth_reg_weight", 0.5),
            TotalStep = j.Has("total_step") ? j.RequireInt("total_step") : null,
            RankPattern = ReadPattern(j),
            LoraAlpha = j.Double("lora_alpha", 8),
            LoraDropout = j.Double("lora_dropout", 0),
            R = j.Int("r", 8),
            Bias = j.String("bias") ?? "none",
            InitLoraWeights = !j.Root.TryGetProperty("init_lora_weights", out var iv) || iv.ValueKind != JsonValueKind.False,
        }.WithCommonFields(j);
        return config.Validate(j.Source);
    }

    static Dictionary<string, bool[]>? ReadPattern(JsonReading j)
    {
        var o = j.Object("rank_pattern");
        if (o is null) return null;
        return o.Root.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.ValueKind == JsonValueKind.Array && p.Value.EnumerateArray().All(e => e.ValueKind is JsonValueKind.True or JsonValueKind.False)
            ? p.Value.EnumerateArray().Select(e => e.GetBoolean()).ToArray()
            : throw new InvalidFileFormatException(j.Source, $"'rank_pattern.{p.Name}' must be a list of true/false (AdaLoRA's kept ranks)"), StringComparer.Ordinal);
    }

    /// <summary>adapter_config.json with PEFT's fields (sorted, as PEFT writes them).</summary>
    public override JsonObject ToJson()
    {
        var o = new JsonObject
        {
            ["alpha_pattern"] = new JsonObject(),
            ["beta1"] = Beta1,
            ["beta2"] = Beta2,
            ["bias"] = Bias,
            ["deltaT"] = DeltaT,
            ["fan_in_fan_out"] = false,
            ["init_lora_weights"] = InitLoraWeights,
            ["init_r"] = InitR,
            ["lora_alpha"] = LoraAlpha,
            ["lora_dropout"] = LoraDropout,
            ["orth_reg_weight"] = OrthRegWeight,
            ["r"] = R,
            ["rank_pattern"] = RankPattern is null ? null : new JsonObject(RankPattern.OrderBy(kv => kv.Key, StringComparer.Ordinal)
                .Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)new JsonArray(kv.Value.Select(v => (JsonNode)v).ToArray())))),
            ["target_r"] = TargetR,
            ["tfinal"] = Tfinal,
            ["tinit"] = Tinit,
            ["total_step"] = TotalStep,
            ["use_dora"] = false,
            ["use_rslora"] = false,
        };
        WriteCommonFields(o);
        return Sorted(o);
    }
}
