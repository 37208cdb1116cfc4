using System.Globalization;
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
            o.WriteLine($"adapter      {name} from {folder}: {c.Describe()}");
            var targets = record.Layers.GroupBy(l => l.ModulePath.Split('.')[^1])
                .Select(g => $"{g.Key} x{g.Count()}").ToList();
            o.WriteLine($"  targets    {string.Join(", ", targets)}");
            if (c.BaseModelNameOrPath is { } b) o.WriteLine($"  trained on {b}");
        }
        o.WriteLine("  " + peft.TrainableReport());
    }
}
