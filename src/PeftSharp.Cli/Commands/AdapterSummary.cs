using System.Globalization;
using PeftSharp.Adapters.Lora;
using PeftSharp.Peft;

namespace PeftSharp.Cli.Commands;

/// <summary>What `inspect --adapter` prints about the adapter.</summary>
internal static class AdapterSummary
{
    public static void Write(PeftModel peft, string folder, TextWriter o)
    {
        foreach (var (name, record) in peft.Adapters)
        {
            var c = record.Config;
            var kind = c.UseDora ? "DoRA" : c.UseRslora ? "rsLoRA" : "LoRA";
            o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"adapter      {name} from {folder}: {kind}, r {c.R}, lora_alpha {c.LoraAlpha}, dropout {c.LoraDropout}, bias {c.Bias}"));
            var targets = record.Layers.GroupBy(l => l.ModulePath.Split('.')[^1])
                .Select(g => $"{g.Key} x{g.Count()}").ToList();
            o.WriteLine($"  targets    {string.Join(", ", targets)}");
            if (c.BaseModelNameOrPath is { } b) o.WriteLine($"  trained on {b}");
        }
        o.WriteLine("  " + peft.TrainableReport());
    }
}
