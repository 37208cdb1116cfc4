using PeftSharp.IO;
using PeftSharp.IO.SafeTensors;
using PeftSharp.Nn;
using PeftSharp.Nn.Quantized;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Models;

/// <summary>What a load found beside the weights it filled.</summary>
public sealed record WeightLoadReport(IReadOnlyList<string> Loaded, IReadOnlyList<string> Unexpected);

/// <summary>
/// Fills a module's parameters from a checkpoint, one tensor at a time, checking every shape itself
/// (TorchSharp's load_state_dict would silently broadcast a wrong shape).
/// </summary>
public static class WeightLoader
{
    /// <summary>Keys a checkpoint may carry that are derived state, not weights.</summary>
    static bool Ignorable(string key) => key.EndsWith("rotary_emb.inv_freq", StringComparison.Ordinal);

    /// <summary>
    /// Loads every tensor <paramref name="module"/>'s state_dict names from <paramref name="source"/> (by identical
    /// key, as HF checkpoints spell them), converting to the parameter's dtype.
    /// </summary>
    /// <param name="module">The model to fill; its parameters keep their identity (copied into or re-pointed).</param>
    /// <param name="source">The checkpoint (safetensors shards or a llama2.c file).</param>
    /// <param name="tiedKeys">Keys not read because they share another parameter (a tied lm_head, or a head to
    /// initialise instead); null = none.</param>
    /// <returns>The keys loaded and the checkpoint keys nothing used (derived rotary inv_freq buffers are not
    /// reported).</returns>
    /// <exception cref="PeftSharpException">The checkpoint lacks a needed key, or a tensor's shape differs from the
    /// model's.</exception>
    /// <param name="mapped">
    /// Where the source can map its file and a tensor's dtype already matches, make the parameter use the mapped
    /// pages (no copy, shared with the page cache, copy-on-write if modified) instead of copying them.
    /// </param>
    /// <param name="quantizer">
    /// Quantizes Linear weights as they load (layer by layer, so a 4-bit load never holds the dense model), and reads
    /// Linear weights the checkpoint already stores quantized.
    /// </param>
    public static WeightLoadReport Load(nn.Module module, ITensorSource source, IReadOnlySet<string>? tiedKeys = null, bool mapped = false,
        IWeightQuantizer? quantizer = null)
    {
        var targets = module.state_dict();
        var missing = new List<string>();
        var loaded = new List<string>();
        var consumed = new HashSet<string>(StringComparer.Ordinal);
        var linears = module.named_modules().Where(m => m.module is Linear).ToDictionary(m => m.name + ".weight", m => (m.name, (Linear)m.module));
        var prequantized = new Dictionary<string, (string Path, Linear Layer)>(StringComparer.Ordinal);
        if (quantizer is not null)
            foreach (var (key, (path, layer)) in linears)
                if (quantizer.PrequantizedKeys(source, path) is { } keys)
                {
                    prequantized[key] = (path, layer);
                    consumed.UnionWith(keys);
                }
        foreach (var (key, _) in targets)
            if (!source.Contains(key) && !(tiedKeys?.Contains(key) ?? false)) missing.Add(key);
        if (missing.Count > 0)
            throw new PeftSharpException(
                $"the checkpoint lacks {missing.Count} weight(s) the model needs: {string.Join(", ", missing.Take(8))}{(missing.Count > 8 ? ", ..." : "")}. " +
                $"It holds {source.Keys.Count} tensors, e.g. {string.Join(", ", source.Keys.Take(4))}: check that config.json matches these weights");
        using (no_grad())
        {
            foreach (var (key, target) in targets)
            {
                if (tiedKeys?.Contains(key) ?? false) continue;
                if (prequantized.TryGetValue(key, out var pq))
                {
                    pq.Layer.SetQuantized(quantizer!.LoadPrequantized(source, pq.Path));
                    loaded.Add(key);
                    continue;
                }
                var info = source.GetInfo(key);
                if (!info.Shape.SequenceEqual(target.shape))
                    throw new PeftSharpException(
                        $"weight '{key}' has shape [{string.Join(", ", info.Shape)}] in the checkpoint but the model expects [{string.Join(", ", target.shape)}]: config.json does not describe these weights");
                if (quantizer is not null && linears.TryGetValue(key, out var lin) && quantizer.Quantizes(lin.Item1))
                {
                    // Quantize straight from the checkpoint (mapped pages where possible): the dense layer is never materialised.
                    using var dense = source is IMappedTensorSource src ? src.LoadMapped(key) : source.Load(key);
                    lin.Item2.SetQuantized(quantizer.Quantize(dense));
                }
                else if (mapped && target.device_type == DeviceType.CPU && source is IMappedTensorSource ms && info.DType.ToScalarType() == target.dtype)
                {
                    using var m = ms.LoadMapped(key);
                    target.set_(m);
                }
                else
                {
                    using var t = source.Load(key, target.dtype);
                    target.copy_(t);
                }
                loaded.Add(key);
            }
        }
        var unexpected = source.Keys.Where(k => !targets.ContainsKey(k) && !consumed.Contains(k) && !Ignorable(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
        return new WeightLoadReport(loaded, unexpected);
    }
}
