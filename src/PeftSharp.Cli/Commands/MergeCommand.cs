using System.CommandLine;
using PeftSharp.Models;
using PeftSharp.Peft;

namespace PeftSharp.Cli.Commands;

/// <summary>`peftsharp merge`: fold an adapter into its base model and save a plain Hugging Face model folder.</summary>
internal static class MergeCommand
{
    public static Command Create(TextWriter stdout)
    {
        var modelOptions = new ModelOptions();
        var output = new Option<string>("--out", "-o") { Description = "Output folder for the merged model (must not exist or be empty)", Required = true };
        var cmd = new Command("merge", "Merge a PEFT adapter into its base model and save the result as a Hugging Face model folder") { output };
        modelOptions.AddTo(cmd);
        cmd.SetAction(r =>
        {
            if (modelOptions.AdapterPath(r) is not { } folder) throw new ConfigurationException("merge needs --adapter <adapter folder>: pass the adapter to fold into the model");
            var model = modelOptions.Check(r);
            var config = AdapterFolder.ReadConfig(folder);
            if (!config.UsesTargetModules)
                throw new ConfigurationException(
                    $"adapter {folder} is {config.PeftType} (virtual tokens, not a weight update), which cannot be merged into the base weights: use it unmerged with --adapter (generate, eval)");
            OutputFolder.Check(r.GetValue(output)!, "--out", model.Folder, mustBeNew: true);
            var (lm, peft) = modelOptions.Load(r);
            using var _ = lm;
            if (lm.Model.DType != TorchSharp.torch.ScalarType.Float32)
                Diagnostics.Warn($"merging into {ModelFolderWriter.DTypeName(lm.Model.DType)} weights rounds the adapter's contribution; use --dtype float32 for an exact merge");
            var report = peft!.TrainableReport();
            peft.MergeAndUnload();
            var outDir = r.GetValue(output)!;
            ModelFolderWriter.Save(lm.Model, outDir, lm.TokenizerFiles());
            stdout.WriteLine($"merged {modelOptions.AdapterPath(r)} into {lm.Location.Argument} ({report.Split(" || ")[0]}); wrote {Path.GetFullPath(outDir)}");
            return 0;
        });
        return cmd;
    }
}
