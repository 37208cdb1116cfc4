using System.Globalization;
using TorchSharp;
using PeftSharp.Nn;
using static TorchSharp.torch;

namespace PeftSharp.Models;

/// <summary>A human-readable description of a loaded model: architecture, parameter counts, dtypes, tokenizer.</summary>
public static class ModelSummary
{
    /// <summary>Parameters counted once each (a tied head shares the embedding table), quantized weights included.</summary>
    public static long CountParameters(nn.Module module) =>
        UniqueParameters(module).Sum(p => p.numel()) + QuantizedLinears(module).Sum(l => (long)l.InFeatures * l.OutFeatures);

    static IEnumerable<Linear> QuantizedLinears(nn.Module module) =>
        module.named_modules().Select(m => m.module).OfType<Linear>().Where(l => l.Quantized is not null);

    static IEnumerable<Tensor> UniqueParameters(nn.Module module)
    {
        var seen = new HashSet<IntPtr>();
        foreach (var (_, p) in module.named_parameters())
            if (seen.Add(p.Handle)) yield return p;
    }

    /// <summary>
    /// Writes the summary of <paramref name="lm"/> to <paramref name="o"/>, one fact per line: where it was loaded
    /// from, architecture sizes, attention layout, RoPE, parameter counts (total, by dtype or quantized format, by
    /// part), and the tokenizer with its special ids. What <c>peftsharp inspect</c> prints.
    /// </summary>
    public static void Write(PretrainedCausalLM lm, TextWriter o)
    {
        var c = lm.Config;
        var inv = CultureInfo.InvariantCulture;
        o.WriteLine($"model        {lm.Location.Argument} ({lm.Location.Format}: {lm.Location.Path})");
        o.WriteLine($"architecture {c.ModelType}, {c.NumHiddenLayers} layers, hidden {c.HiddenSize}, intermediate {c.IntermediateSize}");
        o.WriteLine($"attention    {c.NumAttentionHeads} heads, {c.NumKeyValueHeads} key/value heads ({(c.NumKeyValueHeads == c.NumAttentionHeads ? "MHA" : c.NumKeyValueHeads == 1 ? "MQA" : "GQA")}), head dim {c.HeadDim}{(c.AttentionBias ? ", q/k/v bias" : "")}");
        o.WriteLine(string.Create(inv, $"rope         theta {c.RopeTheta}{(c.RopeScaling is { } s ? $", {s.Type} scaling x{s.Factor}" : "")}, max positions {c.MaxPositionEmbeddings}"));
        o.WriteLine($"vocabulary   {c.VocabSize}{(c.TieWordEmbeddings ? ", output head tied to embeddings" : "")}");
        long total = CountParameters(lm.Model);
        long bytes = UniqueParameters(lm.Model).Sum(p => p.numel() * p.ElementSize) + QuantizedLinears(lm.Model).Sum(l => l.Quantized!.StorageBytes);
        o.WriteLine(string.Create(inv, $"parameters   {total:N0} ({bytes / 1048576.0:F1} MiB)"));
        var byDtype = UniqueParameters(lm.Model).Where(p => p.numel() > 0).GroupBy(p => p.dtype).Select(g => $"{g.Key}: {g.Sum(p => p.numel()):N0}")
            .Concat(QuantizedLinears(lm.Model).GroupBy(l => l.Quantized!.Format).Select(g => $"{g.Key}: {g.Sum(l => (long)l.InFeatures * l.OutFeatures):N0}"));
        o.WriteLine($"dtypes       {string.Join(", ", byDtype)}");
        var groups = new (string Name, Func<string, bool> Match)[]
        {
            ("embeddings", k => k.Contains("embed_tokens")),
            ("attention", k => k.Contains(".self_attn.")),
            ("mlp", k => k.Contains(".mlp.")),
            ("norms", k => k.Contains("norm")),
            ("output head", k => k.StartsWith("lm_head", StringComparison.Ordinal)),
        };
        var seen = new HashSet<IntPtr>();
        foreach (var (name, match) in groups)
        {
            long n = lm.Model.named_parameters().Where(kv => match(kv.name) && seen.Add(kv.parameter.Handle)).Sum(kv => kv.parameter.numel())
                + lm.Model.named_modules().Where(m => m.module is Linear { Quantized: not null } && match(m.name + ".weight"))
                    .Sum(m => (long)((Linear)m.module).InFeatures * ((Linear)m.module).OutFeatures);
            if (n > 0) o.WriteLine(string.Create(inv, $"  {name,-12} {n,14:N0}  {100.0 * n / total,5:F1}%"));
        }
        if (lm.Tokenizer is { } t)
            o.WriteLine($"tokenizer    {t.GetType().Name}, {t.VocabSize} tokens, BOS {Id(t.BosId)}, EOS {Id(t.EosId)}, PAD {Id(t.PadId)}");
        else
            o.WriteLine("tokenizer    none found (pass --tokenizer)");
    }

    static string Id(int? id) => id?.ToString(CultureInfo.InvariantCulture) ?? "-";
}
