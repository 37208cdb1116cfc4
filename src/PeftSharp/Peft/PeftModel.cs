using PeftSharp.Adapters;
using PeftSharp.Adapters.Lora;
using PeftSharp.Nn;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Embedding = PeftSharp.Nn.Embedding;
using Linear = PeftSharp.Nn.Linear;

namespace PeftSharp.Peft;

/// <summary>
/// A base model with named adapters injected into it (PEFT's PeftModel): the base is frozen, adapters can be added,
/// switched, disabled, merged into the base and removed, and saved as PEFT adapter folders.
/// </summary>
public sealed class PeftModel
{
    readonly Dictionary<string, AdapterRecord> adapters = new();
    readonly HashSet<Parameter> trainableBase = new(ReferenceEqualityComparer.Instance);

    /// <summary>
    /// The wrapped base model, with the adapter layers injected in place of its targeted modules; run forward on it.
    /// </summary>
    public nn.Module Model { get; }
    /// <summary>
    /// Every adapter injected into the model, by name (PEFT's <c>peft_config</c> keys), active or not.
    /// </summary>
    public IReadOnlyDictionary<string, AdapterRecord> Adapters => adapters;
    /// <summary>
    /// Name of the adapter whose layers forward uses and whose parameters are trainable, or null when none is left.
    /// </summary>
    public string? ActiveAdapter { get; private set; }
    /// <summary>
    /// Whether the model is in train mode (adapter dropout on); set with <see cref="SetTraining"/>. False after
    /// creation.
    /// </summary>
    public bool Training { get; private set; }

    PeftModel(nn.Module model) => Model = model;

    /// <summary>Freezes <paramref name="model"/> and injects one adapter, which becomes active (PEFT's get_peft_model).</summary>
    public static PeftModel Create(nn.Module model, AdapterConfig config, string adapterName = "default", long? seed = null)
    {
        var peft = new PeftModel(model);
        foreach (var (_, p) in model.named_parameters()) p.requires_grad = false;
        peft.AddAdapter(adapterName, config, seed);
        peft.SetAdapter(adapterName);
        return peft;
    }

    /// <summary>Injects another adapter; it is inactive until <see cref="SetAdapter"/>.</summary>
    public AdapterRecord AddAdapter(string name, AdapterConfig config, long? seed = null)
    {
        config.Validate($"adapter '{name}'");
        if (string.IsNullOrWhiteSpace(name) || name.Contains('.') || name.Contains('/'))
            throw new ConfigurationException($"adapter name '{name}' must be a plain name (no '.' or '/')");
        if (adapters.ContainsKey(name)) throw new ConfigurationException($"an adapter named '{name}' already exists: pick another name or delete it first");
        using var generator = seed is { } s ? new Generator().manual_seed(s) : null;
        var record = new AdapterRecord(name, config);
        try
        {
            config.Inject(record, Model, generator);
            AddModulesToSave(record, config, name);
        }
        catch
        {
            foreach (var l in record.Layers) l.Detach();
            throw;
        }
        record.Training = config.CreateTraining(record);
        adapters[name] = record;
        ApplyBiasRule(config, record);
        // New parameters start with requires_grad = true; only the active adapter trains (as PEFT's add_adapter).
        UpdateTrainable();
        return record;
    }

    void AddModulesToSave(AdapterRecord record, AdapterConfig config, string name)
    {
        foreach (var target in config.ModulesToSave)
        {
            var matches = TargetMatcher.AdaptableModules(Model).Where(m => TargetMatcher.NameMatches(m.Name, new[] { target }, null)).ToList();
            if (matches.Count == 0)
                throw new ConfigurationException($"modules_to_save entry '{target}' matches no Linear or Embedding module of the model");
            if (matches.FirstOrDefault(m => m.Module is Linear { Quantized: not null }) is ({ } quantizedPath, _))
                throw new ConfigurationException(
                    $"modules_to_save entry '{target}' ('{quantizedPath}') is a quantized Linear, whose weight cannot be trained in full: " +
                    "drop it from modules_to_save, or load the base unquantized (adapter: lora instead of qlora, no load_in_4bit/load_in_8bit)");
            foreach (var (path, module) in matches)
            {
                object copy = module is Linear l ? new LinearToSave(l, name) : new EmbeddingToSave((Embedding)module, name);
                record.Layers.Add(new AttachedAdapter(path, module, copy));
            }
        }
    }

    void ApplyBiasRule(AdapterConfig config, AdapterRecord record)
    {
        IEnumerable<Parameter> biases = config.Bias switch
        {
            "all" => Model.named_parameters().Where(p => p.name.EndsWith("bias", StringComparison.Ordinal) && !IsAdapterPath(p.name)).Select(p => p.parameter),
            "lora_only" => record.Layers.Select(l => l.Host).OfType<Linear>().Select(l => l.bias).OfType<Parameter>(),
            _ => Enumerable.Empty<Parameter>(),
        };
        foreach (var b in biases) trainableBase.Add(b);
    }

    /// <summary>True for parameter paths that belong to an adapter rather than the base model.</summary>
    public static bool IsAdapterPath(string path) => AdapterNameOf(path) is not null;

    /// <summary>The adapter a parameter path belongs to: the segment after its slot (q_proj.lora_A.&lt;name&gt;.weight).</summary>
    public static string? AdapterNameOf(string path)
    {
        var parts = path.Split('.');
        for (int i = 0; i + 1 < parts.Length; i++)
            if (AdapterSlotNames.All.Contains(parts[i])) return parts[i + 1];
        return null;
    }

    /// <summary>Makes <paramref name="name"/> the active adapter: only it runs and only its parameters train.</summary>
    public void SetAdapter(string name)
    {
        Get(name);
        foreach (var r in adapters.Values)
            foreach (var l in r.Layers) SetActive(l.Host, new[] { name });
        ActiveAdapter = name;
        UpdateTrainable();
    }

    static void SetActive(nn.Module host, IEnumerable<string> names) => (host as IAdapterHost)?.Switches.SetActive(names);

    void UpdateTrainable()
    {
        foreach (var (path, p) in Model.named_parameters())
        {
            var owner = AdapterNameOf(path);
            bool isAdapter = owner is not null;
            bool active = isAdapter && owner == ActiveAdapter;
            p.requires_grad = active || (!isAdapter && trainableBase.Contains(p));
        }
    }

    AdapterRecord Get(string name) => adapters.TryGetValue(name, out var r) ? r
        : throw new ConfigurationException($"no adapter named '{name}' (adapters: {string.Join(", ", adapters.Keys)})");

    /// <summary>
    /// Removes the named adapter's layers from the model (unmerging first if it was merged), as PEFT's delete_adapter.
    /// When it was active, the first remaining adapter becomes active, or none.
    /// </summary>
    /// <exception cref="ConfigurationException">No adapter has that name.</exception>
    public void DeleteAdapter(string name)
    {
        var record = Get(name);
        if (record.Merged) Unmerge();
        foreach (var l in record.Layers) l.Detach();
        adapters.Remove(name);
        if (ActiveAdapter == name)
        {
            ActiveAdapter = null;
            if (adapters.Count > 0) SetAdapter(adapters.Keys.First());
        }
    }

    /// <summary>Folds the active adapter (or the named ones) into the base weights; forward then skips them.</summary>
    public void Merge(params string[] names)
    {
        var which = names.Length > 0 ? names : ActiveAdapter is { } a ? new[] { a } : Array.Empty<string>();
        foreach (var name in which)
        {
            var record = Get(name);
            if (record.Merged) continue;
            if (record.Layers.FirstOrDefault(l => !l.Mergeable) is { } fixedPart)
                throw new ConfigurationException($"adapter '{name}' ({record.Config.PeftType}) cannot be merged into the base weights ('{fixedPart.ModulePath}' is not a weight update): use it unmerged");
            if (record.Layers.Any(l => l.Host is Linear { Quantized: not null }))
                Diagnostics.Warn($"merging adapter '{name}' into quantized base weights: the merged weights are re-quantized, which rounds the adapter's change; merge into a dense (bf16/fp32) load of the base for an exact result");
            using (no_grad())
                foreach (var l in record.Layers)
                {
                    l.Merge();
                    MarkMerged(l, name, true);
                }
            record.Merged = true;
        }
    }

    /// <summary>Undoes every merge, in reverse order, restoring the base weights (within fp32 round-off).</summary>
    public void Unmerge()
    {
        foreach (var record in adapters.Values.Where(r => r.Merged).Reverse())
        {
            using (no_grad())
                foreach (var l in Enumerable.Reverse(record.Layers))
                {
                    l.Unmerge();
                    MarkMerged(l, record.Name, false);
                }
            record.Merged = false;
        }
    }

    static void MarkMerged(AttachedAdapter l, string name, bool merged) => (l.Host as IAdapterHost)?.Switches.MarkMerged(name, merged);

    /// <summary>Merges the active adapter, removes every adapter and returns the plain base model (PEFT's merge_and_unload).</summary>
    public nn.Module MergeAndUnload()
    {
        Merge();
        foreach (var record in adapters.Values)
            foreach (var l in record.Layers) l.Detach();
        adapters.Clear();
        ActiveAdapter = null;
        foreach (var (_, p) in Model.named_parameters()) p.requires_grad = false;
        return Model;
    }

    /// <summary>Within the returned scope the model computes its base function only.</summary>
    public IDisposable DisableAdapters()
    {
        var hosts = adapters.Values.SelectMany(r => r.Layers).Select(l => l.Host).Distinct().ToList();
        foreach (var h in hosts) SetDisabled(h, true);
        return new Scope(() => { foreach (var h in hosts) SetDisabled(h, false); });
    }

    static void SetDisabled(nn.Module host, bool disabled)
    {
        if (host is IAdapterHost h) h.Switches.Disabled = disabled;
    }

    sealed class Scope(Action onDispose) : IDisposable
    {
        public void Dispose() => onDispose();
    }

    /// <summary>Train mode turns adapter dropout on; eval mode off.</summary>
    public void SetTraining(bool training)
    {
        Training = training;
        foreach (var l in adapters.Values.SelectMany(r => r.Layers)) l.SetTraining(training);
    }

    /// <summary>The active adapter's training rules (AdaLoRA's allocator, SoRA's gate step), or null.</summary>
    public IAdapterTraining? ActiveTraining => ActiveAdapter is { } a ? adapters[a].Training : null;

    /// <summary>
    /// The parameters an optimizer should update: those with requires_grad set (the active adapter's, plus base modules
    /// made trainable such as modules_to_save copies), each once even when tied.
    /// </summary>
    public IEnumerable<Parameter> TrainableParameters() =>
        Model.named_parameters().Select(p => p.parameter).Where(p => p.requires_grad).Distinct(ReferenceEqualityComparer.Instance).Cast<Parameter>();

    /// <summary>PEFT's report: "trainable params: N || all params: M || trainable%: p".</summary>
    public (long Trainable, long All) CountParameters()
    {
        long trainable = 0, all = 0;
        var seen = new HashSet<IntPtr>();
        foreach (var (_, p) in Model.named_parameters())
        {
            if (!seen.Add(p.Handle)) continue;
            all += p.numel();
            if (p.requires_grad) trainable += p.numel();
        }
        // A quantized base weight is a placeholder parameter; count the weights it stands for, as PEFT does for 4-bit.
        all += Model.named_modules().Select(m => m.module).OfType<Linear>().Where(l => l.Quantized is not null)
            .Sum(l => (long)l.InFeatures * l.OutFeatures);
        return (trainable, all);
    }

    /// <summary>"trainable params: 1,024 || all params: 260,000 || trainable%: 0.3938" (invariant culture).</summary>
    /// <see cref="CountParameters"/> as PEFT's print_trainable_parameters line, e.g.
    public string TrainableReport()
    {
        var (t, a) = CountParameters();
        return string.Create(System.Globalization.CultureInfo.InvariantCulture, $"trainable params: {t:N0} || all params: {a:N0} || trainable%: {100.0 * t / Math.Max(a, 1):F4}");
    }
}
