using System.CommandLine;
using PeftSharp.Models;

namespace PeftSharp.Cli.Commands;

/// <summary>`peftsharp inspect`: architecture, parameter counts and dtypes of a model.</summary>
internal static class InspectCommand
{
    public static Command Create(TextWriter stdout)
    {
        var modelOptions = new ModelOptions();
        var cmd = new Command("inspect", "Print a model's architecture, parameter counts and dtypes");
        modelOptions.AddTo(cmd);
        cmd.SetAction(r =>
        {
            var (lm, peft) = modelOptions.Load(r);
            using var _ = lm;
            ModelSummary.Write(lm, stdout);
            if (peft is not null) AdapterSummary.Write(peft, modelOptions.AdapterPath(r)!, stdout);
            return 0;
        });
        return cmd;
    }
}
