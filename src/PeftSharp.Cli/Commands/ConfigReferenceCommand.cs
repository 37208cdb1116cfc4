using System.CommandLine;
using PeftSharp.Cli.Config;

namespace PeftSharp.Cli.Commands;

/// <summary>`peftsharp config-reference`: every training YAML key with its default and meaning, as Markdown.</summary>
internal static class ConfigReferenceCommand
{
    public static Command Create(TextWriter stdout)
    {
        var keysOnly = new Option<bool>("--keys") { Description = "Only the keys the reader accepts, one per line (section keys as section.key)" };
        var cmd = new Command("config-reference", "Print the training config reference (every YAML key, its default and meaning) as Markdown") { keysOnly };
        cmd.SetAction(r =>
        {
            if (r.GetValue(keysOnly)) foreach (var k in ConfigReference.KeysTheReaderReads()) stdout.WriteLine(k);
            else stdout.Write(ConfigReference.Markdown());
            return 0;
        });
        return cmd;
    }
}
