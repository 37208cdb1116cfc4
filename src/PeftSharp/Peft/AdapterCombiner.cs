using System.Text.RegularExpressions;
using PeftSharp.Adapters;
using PeftSharp.Adapters.Lora;
using static TorchSharp.torch;

namespace PeftSharp.Peft;

/// <summary>
/// PEFT's add_weighted_adapter for LoRA: a new adapter from a weighted combination of existing ones.
/// "cat" stacks the ranks (A = [w_i s_i A_i], B = [B_i]) so the new delta is exactly Σ w_i ΔW_i; "linear" sums
/// √(w_i s_i)-scaled A's and B's (same rank required), which is PEFT's definition and not Σ w_i ΔW_i in general.
/// The new adapter has scaling 1 (alpha = rank).
/// </summary>
public static class AdapterCombiner
{
    static int RankOf(AdapterRecord r, string path) => r.Layers.FirstOrDefault(l => l.ModulePath == path)?.Adapter switch
    {
        LoraLinear ll => ll.Rank,
        LoraEmbedding le => le.Rank,
        _ => 0,
    };

    /// <summary>
    /// Adds a LoRA adapter <paramref name="newName"/> to <paramref name="peft"/> that combines <paramref
    /// name="sources"/> with <paramref name="weights"/>, as PEFT's <c>PeftModel.add_weighted_adapter</c>
    /// (combination_type "cat" or "linear"). The new adapter targets the union of the sources' modules, has no
    /// modules_to_save, and is not activated.
    /// </summary>
    /// <param name="peft">The model holding the source adapters; the new one is added to it.</param>
    /// <param name="sources">Names of existing LoRA (not DoRA) adapters.</param>
    /// <param name="weights">One weight per source, applied to its delta (with "cat" it may be negative, e.g. to
    /// subtract a task).</param>
    /// <param name="newName">Name of the adapter to create.</param>
    /// <param name="combination">"cat" (default: exact Σ w_i ΔW_i, rank = sum of ranks) or "linear" (PEFT's √-weighted
    /// sum of factors; ranks must match).</param>
    /// <returns>The new adapter's record.</returns>
    /// <exception cref="ConfigurationException">Weights and sources differ in count, a source is missing, not LoRA or
    /// DoRA, the combination is unknown, or "linear" meets different ranks.</exception>
    public static AdapterRecord AddWeighted(PeftModel peft, IReadOnlyList<string> sources, IReadOnlyList<double> weights, string newName, string combination = "cat")
    {
        if (sources.Count == 0 || sources.Count != weights.Count)
            throw new ConfigurationException($"give one weight per adapter ({sources.Count} adapters, {weights.Count} weights)");
        if (combination is not ("cat" or "linear"))
            throw new ConfigurationException($"combination type '{combination}' is not supported: use cat or linear");
        var records = sources.Select(s => peft.Adapters.TryGetValue(s, out var r) ? r
            : throw new ConfigurationException($"no adapter named '{s}' (adapters: {string.Join(", ", peft.Adapters.Keys)})")).ToList();
        if (records.FirstOrDefault(r => r.Config is not LoraConfig) is { } other)
            throw new ConfigurationException($"only LoRA adapters can be combined; '{other.Name}' is {other.Config.PeftType}");
        if (records.Any(r => ((LoraConfig)r.Config).UseDora))
            throw new ConfigurationException("DoRA adapters cannot be combined (their magnitude vectors do not add): merge them one at a time instead");
        var paths = records.SelectMany(r => r.Layers).Where(l => l.Adapter is LoraLinear or LoraEmbedding)
            .Select(l => l.ModulePath).Distinct().ToList();
        var ranksByPath = paths.ToDictionary(p => p, p => records.Select(r => RankOf(r, p)).Where(x => x > 0).ToList());
        if (combination == "linear" && ranksByPath.Values.Any(rs => rs.Distinct().Count() > 1))
            throw new ConfigurationException("linear combination needs adapters of the same rank: use combination \"cat\"");
        var ranks = ranksByPath.ToDictionary(kv => kv.Key, kv => combination == "cat" ? kv.Value.Sum() : kv.Value[0]);
        var first = (LoraConfig)records[0].Config;
        var config = first with
        {
            TargetModules = paths,
            TargetRegex = null,
            ExcludeModules = null,
            ExcludeRegex = null,
            LayersToTransform = null,
            R = ranks.Values.Max(),
            LoraAlpha = ranks.Values.Max(),
            UseRslora = false,
            RankPattern = ranks.ToDictionary(kv => Regex.Escape(kv.Key), kv => kv.Value),
            AlphaPattern = ranks.ToDictionary(kv => Regex.Escape(kv.Key), kv => (double)kv.Value),
            ModulesToSave = Array.Empty<string>(),
            InitLoraWeights = "true",
        };
        var created = peft.AddAdapter(newName, config);
        using var _ = no_grad();
        foreach (var layer in created.Layers)
        {
            var parts = records.Select((r, i) => (Adapter: r.Layers.FirstOrDefault(l => l.ModulePath == layer.ModulePath)?.Adapter, Weight: weights[i]))
                .Where(p => p.Adapter is not null).ToList();
            var (a, b, _) = Factors(layer.Adapter);
            var factors = parts.Select(p => (Source: Factors(p.Adapter!), p.Weight)).ToList();
            if (combination == "cat")
            {
                a.copy_(cat(factors.Select(f => f.Source.A * (f.Weight * f.Source.Scaling)).ToArray(), 0));
                b.copy_(cat(factors.Select(f => f.Source.B).ToArray(), 1));
            }
            else
            {
                a.zero_();
                b.zero_();
                foreach (var f in factors)
                {
                    double c = Math.Sqrt(f.Weight * f.Source.Scaling);
                    a.add_(f.Source.A * c);
                    b.add_(f.Source.B * c);
                }
            }
        }
        return created;
    }

    static (Tensor A, Tensor B, double Scaling) Factors(object adapter) => adapter switch
    {
        LoraLinear ll => (ll.A.weight, ll.B.weight, ll.Scaling),
        LoraEmbedding le => (le.A, le.B, le.Scaling),
        _ => throw new InvalidOperationException(),
    };
}
