using PeftSharp.Adapters.Lora;
using PeftSharp.Peft;
using static TorchSharp.torch;

namespace PeftSharp.Adapters.Sora;

/// <summary>
/// A trained SoRA adapter as the plain LoRA adapter it amounts to, which Python PEFT loads: ranks whose gate is zero
/// are dropped, the gate is folded into B (B' = B[:, live] ⊙ g[live]), A' = A[live]. Per module the rank r' goes into
/// rank_pattern and alpha·r'/r into alpha_pattern, so LoRA's scaling alpha'/r' equals SoRA's alpha/r and the outputs
/// are unchanged. Modules left with no rank are not targeted; if every gate is zero there is nothing to save and the
/// export fails (lower sparse_lambda or the learning rate).
/// </summary>
public static class SoraExport
{
    /// <summary>Live rank per adapted module path, in attach order.</summary>
    public static List<(string Path, SoraLinear Layer, long[] Live)> Survivors(AdapterRecord record) =>
        record.Of<SoraLinear>().Select(x => (x.Path, x.Adapter, x.Adapter.LiveRanks())).ToList();

    /// <summary>
    /// The LoRA config the trained adapter exports as: targets narrowed to modules with a live rank, their ranks in
    /// rank_pattern and alpha·r'/r in alpha_pattern. Reports the surviving ranks through <see
    /// cref="Diagnostics.Info"/>.
    /// </summary>
    /// <exception cref="ConfigurationException">Every gate is zero, so there is nothing to save.</exception>
    public static LoraConfig PrunedConfig(SoraConfig c, AdapterRecord record)
    {
        var all = Survivors(record);
        var live = all.Where(s => s.Live.Length > 0).ToList();
        Diagnostics.Info($"SoRA adapter '{record.Name}': surviving rank per module (of {c.R}): " +
            string.Join(", ", all.Select(s => $"{s.Path} {s.Live.Length}")) + $"; total {live.Sum(s => s.Live.Length)} of {c.R * all.Count}");
        if (live.Count == 0)
            throw new ConfigurationException(
                $"SoRA adapter '{record.Name}': every gate is zero, so the adapter does nothing and there is no LoRA adapter to save; " +
                "train with a smaller sparse_lambda (or learning rate), or resume from an earlier checkpoint");
        var pruned = live.Where(s => s.Live.Length != c.R).ToList();
        return new LoraConfig
        {
            R = c.R,
            LoraAlpha = c.LoraAlpha,
            LoraDropout = c.LoraDropout,
            RankPattern = pruned.ToDictionary(s => s.Path, s => s.Live.Length),
            AlphaPattern = pruned.ToDictionary(s => s.Path, s => c.LoraAlpha * s.Live.Length / c.R),
            TargetModules = live.Select(s => s.Path).ToList(),
            ModulesToSave = c.ModulesToSave,
            TaskType = c.TaskType,
            BaseModelNameOrPath = c.BaseModelNameOrPath,
            Bias = c.Bias,
        };
    }

    /// <summary>byKey with every SoRA tensor replaced by the pruned LoRA pair of the modules that keep a rank.</summary>
    public static IDictionary<string, Tensor> PrunedTensors(AdapterRecord record, IDictionary<string, Tensor> byKey)
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var survivors = Survivors(record);
        var sora = survivors.SelectMany(s => new[] { "lora_A.weight", "lora_B.weight", "sora_gate" }.Select(k => PeftKeys.Prefix + s.Path + "." + k)).ToHashSet();
        foreach (var (k, v) in byKey)
            if (!sora.Contains(k)) result[k] = v;
        using var _ = no_grad();
        foreach (var (path, layer, live) in survivors)
        {
            if (live.Length == 0) continue;
            var idx = tensor(live, device: layer.A.weight.device);
            result[PeftKeys.Prefix + path + ".lora_A.weight"] = layer.A.weight.detach().index_select(0, idx).contiguous();
            result[PeftKeys.Prefix + path + ".lora_B.weight"] = (layer.B.weight.detach() * layer.Gate.detach()).index_select(1, idx).contiguous();
        }
        return result;
    }
}
