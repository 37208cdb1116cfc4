using System.Text.RegularExpressions;
using PeftSharp.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Adapters;

/// <summary>
/// Which modules an adapter config targets, with PEFT's rules: a list entry matches a module whose full name equals it
/// or ends with "." + it; a string is a regex that must match the whole name; "all-linear" is every Linear except the
/// output head; exclude_modules removes matches; layers_to_transform keeps only the listed layer indices.
/// </summary>
public static class TargetMatcher
{
    static readonly string[] DefaultLayerPatterns = { "layers", "h", "blocks", "layer" };

    /// <summary>Every adaptable module (our Linear and Embedding) by full name, not descending into adapter slots.</summary>
    public static IEnumerable<(string Name, nn.Module Module)> AdaptableModules(nn.Module root)
    {
        foreach (var (name, child) in Walk(root, ""))
            if (child is Linear or Embedding) yield return (name, child);
    }

    static IEnumerable<(string, nn.Module)> Walk(nn.Module m, string prefix)
    {
        foreach (var (name, child) in m.named_children())
        {
            if (child is ModuleSlots) continue;
            var full = prefix.Length == 0 ? name : prefix + "." + name;
            yield return (full, child);
            foreach (var x in Walk(child, full)) yield return x;
        }
    }

    /// <summary>
    /// PEFT's target rule for one module: with <paramref name="regex"/>, a match of the whole
    /// <paramref name="fullName"/>; otherwise a name in <paramref name="names"/> equal to it or a dot-separated suffix of
    /// it ("q_proj" matches "model.layers.0.self_attn.q_proj"). False when both are null.
    /// </summary>
    public static bool NameMatches(string fullName, IReadOnlyList<string>? names, string? regex)
    {
        if (regex is not null) return Regex.IsMatch(fullName, "^(?:" + regex + ")$");
        return names is not null && names.Any(t => fullName == t || fullName.EndsWith("." + t, StringComparison.Ordinal));
    }

    /// <summary>
    /// The layer index in <paramref name="fullName"/>: the number after the segment <paramref name="pattern"/> (PEFT's
    /// layers_pattern) or, when null, after "layers", "h", "blocks" or "layer"; null when the name has none.
    /// </summary>
    public static int? LayerIndex(string fullName, string? pattern)
    {
        foreach (var p in pattern is null ? DefaultLayerPatterns : new[] { pattern })
        {
            var m = Regex.Match(fullName, $@"(?:^|\.){Regex.Escape(p)}\.(\d+)(?:\.|$)");
            if (m.Success) return int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        }
        return null;
    }

    /// <summary>Output heads "all-linear" leaves alone, as PEFT does (a causal LM's lm_head, Whisper's proj_out).</summary>
    static readonly string[] OutputHeads = { "lm_head", "proj_out" };

    /// <summary>The modules <paramref name="config"/> adapts, or an error listing what could have been targeted.</summary>
    /// <exception cref="ConfigurationException">A target names no adaptable module (or one that cannot carry an adapter), or nothing is selected.</exception>
    public static List<(string Name, nn.Module Module)> Select(nn.Module root, AdapterConfig config)
    {
        var all = AdaptableModules(root).ToList();
        bool allLinear = config.TargetRegex == AdapterConfig.AllLinear || (config.TargetModules is [AdapterConfig.AllLinear]);
        var chosen = all.Where(m => allLinear
                ? m.Module is Linear && !OutputHeads.Any(h => m.Name == h || m.Name.EndsWith("." + h, StringComparison.Ordinal))
                : NameMatches(m.Name, config.TargetModules, config.TargetRegex))
            .Where(m => !NameMatches(m.Name, config.ExcludeModules, config.ExcludeRegex))
            // A module trained in full (a classifier's score head) gets no adapter: its copy is what trains.
            .Where(m => !NameMatches(m.Name, config.ModulesToSave, null))
            .Where(m => config.LayersToTransform is null || (LayerIndex(m.Name, config.LayersPattern) is { } i && config.LayersToTransform.Contains(i)))
            .ToList();
        if (config.TargetModules is { } names && !allLinear)
        {
            var unmatched = names.Where(t => !all.Any(m => NameMatches(m.Name, new[] { t }, null))).ToList();
            foreach (var t in unmatched)
                if (Walk(root, "").FirstOrDefault(m => NameMatches(m.Item1, new[] { t }, null)) is ({ } path, { } other))
                    throw new ConfigurationException(
                        $"target module '{t}' is a {other.GetType().Name} ('{path}'), which cannot carry an adapter: target Linear layers ({LinearNames(all)}) or Embedding layers ({EmbeddingNames(all)}) instead");
            if (unmatched.Count > 0) throw NotFound(unmatched, all);
        }
        if (chosen.Count == 0)
            throw NotFound(new[] { config.TargetRegex ?? string.Join(", ", config.TargetModules ?? Array.Empty<string>()) }, all);
        return chosen;
    }

    /// <summary>As <see cref="Select"/>, for methods that attach to Linear layers only (<paramref name="method"/> names it in the error).</summary>
    public static IEnumerable<(string Name, Linear Layer)> SelectLinears(nn.Module root, AdapterConfig config, string method)
    {
        foreach (var (path, module) in Select(root, config))
            yield return module is Linear l ? (path, l)
                : throw new ConfigurationException($"'{path}' is not a Linear layer: {method} attaches to Linear layers only; drop it from target_modules");
    }

    static string LinearNames(List<(string Name, nn.Module Module)> all) =>
        string.Join(", ", all.Where(m => m.Module is Linear).Select(m => m.Name.Split('.')[^1]).Distinct().OrderBy(s => s, StringComparer.Ordinal));

    static string EmbeddingNames(List<(string Name, nn.Module Module)> all) =>
        string.Join(", ", all.Where(m => m.Module is Embedding).Select(m => m.Name.Split('.')[^1]).Distinct());

    static ConfigurationException NotFound(IEnumerable<string> targets, List<(string Name, nn.Module Module)> all) =>
        new($"target module(s) {string.Join(", ", targets.Select(t => $"'{t}'"))} not found (after exclude_modules / layers_to_transform); " +
            $"modules that match Linear are: {LinearNames(all)}; Embedding: {EmbeddingNames(all)}");

    /// <summary>The rank or alpha for one module: the first pattern key that matches the end of its name, else the default.</summary>
    public static T Pattern<T>(IReadOnlyDictionary<string, T> patterns, string fullName, T fallback)
    {
        foreach (var (key, value) in patterns)
            if (Regex.IsMatch(fullName, $"^(?:.*\\.)?(?:{key})$")) return value;
        return fallback;
    }
}
