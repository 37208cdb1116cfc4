using System.CommandLine;
using PeftSharp.Models;

namespace PeftSharp.Cli.Commands;

/// <summary>`peftsharp inspect`: architecture, parameter counts and dtypes of a model.</summary>
internal static class InspectCommand
{
    public static Command Create(TextWriter stdout)
    {
        var model = CommonOptions.Model();
        var tokenizer = CommonOptions.Tokenizer();
        var dtype = CommonOptions.DType();
        var cmd = new Command("inspect", "Print a model's architecture, parameter counts and dtypes") { model, tokenizer, dtype };
        cmd.SetAction(r =>
        {
            TorchRuntime.EnsureInitialized();
            using var lm = PretrainedCausalLM.Load(r.GetValue(model)!, new ModelLoadOptions { DType = r.GetValue(dtype)!, TokenizerPath = r.GetValue(tokenizer) });
            ModelSummary.Write(lm, stdout);
            return 0;
        });
        return cmd;
    }
}
