using System.Text.Json;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace PeftSharp.Adapters;

/// <summary>
/// What every method's configuration has: PEFT's target-selection and bookkeeping fields, and the method's own
/// behaviour: how it attaches to a model, how it is saved and loaded, and what it does during training. A method is
/// one record deriving from this (LoRA, AdaLoRA, IA3, ...) plus its layer classes, all in its own folder.
/// </summary>
public abstract record AdapterConfig
{
    /// <summary>PEFT's peft_type (LORA, ADALORA, IA3, PROMPT_TUNING, PREFIX_TUNING) or our own (SORA, BOTTLENECK).</summary>
    public abstract string PeftType { get; }

    /// <summary>Target names (matched as a suffix after a dot), or null with <see cref="TargetRegex"/>.</summary>
    public IReadOnlyList<string>? TargetModules { get; init; }
    /// <summary>A regex that must match a module's full name (PEFT's string form of target_modules); "all-linear" is special.</summary>
    public string? TargetRegex { get; init; }
    /// <summary>
    /// Names of modules never adapted even when a target matches them (PEFT's exclude_modules, list form); null = none.
    /// </summary>
    public IReadOnlyList<string>? ExcludeModules { get; init; }
    /// <summary>
    /// A regex over full module names excluding modules from adaptation (PEFT's exclude_modules, string form); null =
    /// none.
    /// </summary>
    public string? ExcludeRegex { get; init; }
    /// <summary>
    /// Only adapt modules in these decoder layers (0-based indices; PEFT's layers_to_transform); null = every layer.
    /// </summary>
    public IReadOnlyList<int>? LayersToTransform { get; init; }
    /// <summary>
    /// The name of the module list holding the layers (e.g. "layers"), used with <see cref="LayersToTransform"/>
    /// (PEFT's layers_pattern); null = found automatically.
    /// </summary>
    public string? LayersPattern { get; init; }
    /// <summary>
    /// Modules trained in full next to the adapter and saved with it, such as a classifier head "score" (PEFT's
    /// modules_to_save); empty by default.
    /// </summary>
    public IReadOnlyList<string> ModulesToSave { get; init; } = Array.Empty<string>();
    /// <summary>
    /// PEFT's task_type, such as "CAUSAL_LM" (default) or "SEQ_CLS"; recorded in adapter_config.json for PEFT, which
    /// picks its model wrapper by it.
    /// </summary>
    public string? TaskType { get; init; } = "CAUSAL_LM";
    /// <summary>
    /// The base model the adapter was trained on (PEFT's base_model_name_or_path); informational, null when unknown.
    /// </summary>
    public string? BaseModelNameOrPath { get; init; }
    /// <summary>
    /// PEFT's inference_mode: true in a saved adapter meant for inference (PEFT then freezes it on load); default
    /// false.
    /// </summary>
    public bool InferenceMode { get; init; }
    /// <summary>Which base biases train with the adapter: "none", "all" or "lora_only" (the adapted layers' biases).</summary>
    public string Bias { get; init; } = "none";

    /// <summary>
    /// The special target_modules value "all-linear" (as PEFT): every Linear layer except the output head.
    /// </summary>
    public const string AllLinear = "all-linear";

    /// <summary>True for methods that attach to target modules (and so need target_modules); false for prompt/prefix tuning.</summary>
    public virtual bool UsesTargetModules => true;

    /// <summary>One line for `inspect`: the method and its main settings.</summary>
    public virtual string Describe() => PeftType;

    /// <summary>Checks the values; throws a <see cref="ConfigurationException"/> naming the bad field and its allowed range.</summary>
    public abstract AdapterConfig Validate(string source = "adapter config");

    /// <summary>adapter_config.json, with PEFT's field names and sorted keys as PEFT writes them.</summary>
    public abstract JsonObject ToJson();

    /// <summary>Creates the method's layers on <paramref name="model"/> for <paramref name="record"/> (the base is already frozen).</summary>
    public abstract void Inject(AdapterRecord record, nn.Module model, Generator? generator);

    /// <summary>
    /// The configuration as saved after training (AdaLoRA adds its rank_pattern; SoRA becomes plain LoRA). With
    /// <paramref name="forResume"/> (trainer checkpoints) it must describe the training form, which resume loads back.
    /// </summary>
    public virtual AdapterConfig ForSave(AdapterRecord record, bool forResume) => this;

    /// <summary>
    /// adapter_model.safetensors' tensors by key, from <paramref name="byKey"/> (every adapter parameter under PEFT's
    /// key). Methods whose saved form differs from their training form rewrite it (slice ranks, fold a projection).
    /// <paramref name="forResume"/> is set for trainer checkpoints, which must load back into the training form.
    /// </summary>
    public virtual IDictionary<string, Tensor> SavedTensors(AdapterRecord record, IDictionary<string, Tensor> byKey, bool forResume) => byKey;

    /// <summary>The tensors a saved file fills (key -> parameter); by default every adapter parameter under its PEFT key.</summary>
    public virtual IDictionary<string, Tensor> LoadTargets(AdapterRecord record, IDictionary<string, Tensor> byKey, IReadOnlyCollection<string> fileKeys) => byKey;

    /// <summary>The config with anything that needs the model's tokenizer resolved (prompt tuning's init text -> ids).</summary>
    public virtual AdapterConfig WithTokenizer(Tokenization.ITextTokenizer tokenizer) => this;

    /// <summary>The method's training-time rules (regulariser, after-step updates), or null when it has none.</summary>
    public virtual IAdapterTraining? CreateTraining(AdapterRecord record) => null;

    /// <summary>Copies the fields every method shares from adapter_config.json.</summary>
    protected AdapterConfig WithCommonFields(JsonReading j)
    {
        var (targets, targetRegex) = NamesOrRegex(j, "target_modules");
        var (exclude, excludeRegex) = NamesOrRegex(j, "exclude_modules");
        return this with
        {
            TargetModules = targets,
            TargetRegex = targetRegex,
            ExcludeModules = exclude,
            ExcludeRegex = excludeRegex,
            LayersToTransform = j.Has("layers_to_transform") ? j.Ints("layers_to_transform") : null,
            LayersPattern = j.Has("layers_pattern") ? NamesOrRegex(j, "layers_pattern").Names?.FirstOrDefault() ?? j.String("layers_pattern") : null,
            ModulesToSave = NamesOrRegex(j, "modules_to_save").Names ?? Array.Empty<string>(),
            TaskType = j.String("task_type"),
            BaseModelNameOrPath = j.String("base_model_name_or_path"),
            InferenceMode = j.Bool("inference_mode", false),
        };
    }

    /// <summary>Writes the shared fields into <paramref name="o"/> (a method adds its own and sorts).</summary>
    protected void WriteCommonFields(JsonObject o)
    {
        o["base_model_name_or_path"] = BaseModelNameOrPath;
        o["inference_mode"] = InferenceMode;
        o["modules_to_save"] = ModulesToSave.Count == 0 ? null : new JsonArray(ModulesToSave.Select(n => (JsonNode)n!).ToArray());
        o["peft_type"] = PeftType;
        o["revision"] = null;
        o["task_type"] = TaskType;
        if (!UsesTargetModules) return;
        o["exclude_modules"] = List(ExcludeModules, ExcludeRegex);
        o["layers_pattern"] = LayersPattern;
        o["layers_to_transform"] = LayersToTransform is null ? null : new JsonArray(LayersToTransform.Select(i => (JsonNode)i).ToArray());
        o["target_modules"] = List(TargetModules, TargetRegex);
    }

    /// <summary>The same object with its keys in ordinal order (PEFT's json.dump(sort_keys=True)).</summary>
    protected static JsonObject Sorted(JsonObject o) =>
        new(o.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => KeyValuePair.Create(kv.Key, kv.Value?.DeepClone())));

    static JsonNode? List(IReadOnlyList<string>? names, string? regex) =>
        regex is not null ? JsonValue.Create(regex) : names is null ? null : new JsonArray(names.Select(n => (JsonNode)n!).ToArray());

    /// <summary>Checks that target_modules is given when the method uses it.</summary>
    protected void ValidateTargets(string source, string example)
    {
        if (UsesTargetModules && TargetModules is null && TargetRegex is null)
            throw new ConfigurationException($"{source}: target_modules is required (names such as {example}, a regex, or \"all-linear\")");
    }

    /// <summary>Checks bias is one of PEFT's values (none, all, lora_only).</summary>
    protected void ValidateBias(string source)
    {
        if (Bias is not ("none" or "all" or "lora_only")) throw new ConfigurationException($"{source}: bias must be none, all or lora_only, found '{Bias}'");
    }

    /// <summary>Adds to <paramref name="ignored"/> the keys of <paramref name="j"/> that are set but not in <paramref name="known"/>.</summary>
    protected static void AddIgnoredKeys(JsonReading j, IReadOnlySet<string> known, List<string> ignored) =>
        ignored.AddRange(j.Root.EnumerateObject().Select(p => p.Name).Where(n => !known.Contains(n) && j.Has(n)));

    /// <summary>A list of names or a regex string (PEFT accepts both for target_modules and friends).</summary>
    public static (IReadOnlyList<string>? Names, string? Regex) NamesOrRegex(JsonReading j, string key)
    {
        if (!j.Has(key)) return (null, null);
        var v = j.Root.GetProperty(key);
        if (v.ValueKind == JsonValueKind.String) return (null, v.GetString());
        if (v.ValueKind == JsonValueKind.Array && v.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String))
            return (v.EnumerateArray().Select(e => e.GetString()!).ToList(), null);
        throw new InvalidFileFormatException(j.Source, $"'{key}' must be a list of module names or a regex string");
    }

    /// <summary>Keys every config may carry (written by PEFT's base config or by us).</summary>
    public static readonly HashSet<string> CommonKeys = new()
    {
        "peft_type", "target_modules", "exclude_modules", "layers_to_transform", "layers_pattern", "modules_to_save",
        "task_type", "base_model_name_or_path", "inference_mode", "revision", "auto_mapping", "peft_version",
    };
}

/// <summary>
/// A method's rules during training, called by the trainer for the active adapter: an extra loss term (AdaLoRA's
/// orthogonal regulariser), an update after every optimizer step while gradients are still present (AdaLoRA's rank
/// allocator, SoRA's proximal gate step), and numbers worth logging.
/// </summary>
public interface IAdapterTraining
{
    /// <summary>Called once before the first step with the run's total optimizer steps.</summary>
    void Begin(int totalSteps) { }
    /// <summary>A scalar added to each micro-batch's loss (already weighted), or null.</summary>
    Tensor? RegularizationLoss() => null;
    /// <summary>After optimizer step <paramref name="step"/> (0-based) at learning rate <paramref name="learningRate"/>, before gradients are cleared.</summary>
    void AfterOptimizerStep(int step, double learningRate) { }
    /// <summary>True for the method's parameters that must not get weight decay (SoRA's gates, which have their own L1 step).</summary>
    bool ExcludeFromWeightDecay(string parameterName) => false;
    /// <summary>Values to log with the training metrics (e.g. the surviving rank, the gates' L1 norm).</summary>
    IReadOnlyDictionary<string, double> Metrics() => new Dictionary<string, double>();
}
