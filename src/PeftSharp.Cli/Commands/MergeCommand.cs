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
            if (modelOptions.AdapterPath(r) is null) throw new ConfigurationException("merge needs --adapter <adapter folder>: pass the adapter to fold into the model");
            var model = modelOptions.Check(r);
            CheckMergeable(modelOptions.AdapterPath(r)!);
            OutputFolder.Check(r.GetValue(output)!, "--out", model.Folder, mustBeNew: true);
            var (lm, report) = LoadMerged(modelOptions, r);
            using var _ = lm;
            var outDir = r.GetValue(output)!;
            ModelFolderWriter.Save(lm.Model, outDir, lm.TokenizerFiles());
            stdout.WriteLine($"merged {modelOptions.AdapterPath(r)} into {lm.Location.Argument} ({report!.Split(" || ")[0]}); wrote {Path.GetFullPath(outDir)}");
            return 0;
        });
        return cmd;
    }

    /// <summary>Refuses an adapter that is not a weight update (prompt/prefix tuning), before any model is loaded.</summary>
    public static void CheckMergeable(string folder)
    {
        var config = AdapterFolder.ReadConfig(folder);
        if (!config.UsesTargetModules)
            throw new ConfigurationException(
                $"adapter {folder} is {config.PeftType} (virtual tokens, not a weight update), which cannot be merged into the base weights: use it unmerged with --adapter (generate, eval)");
    }

    /// <summary>
    /// Loads the model of --model with the adapter of --adapter folded into its weights (PEFT's merge_and_unload);
    /// without --adapter, the plain model. Returns the adapter's parameter report (null without one).
    /// </summary>
    public static (PretrainedCausalLM Lm, string? Report) LoadMerged(ModelOptions modelOptions, ParseResult r)
    {
        var (lm, peft) = modelOptions.Load(r);
        if (peft is null) return (lm, null);
        try
        {
            if (lm.Model.DType != TorchSharp.torch.ScalarType.Float32)
                Diagnostics.Warn($"merging into {ModelFolderWriter.DTypeName(lm.Model.DType)} weights rounds the adapter's contribution; use --dtype float32 for an exact merge");
            var report = peft.TrainableReport();
            peft.MergeAndUnload();
            return (lm, report);
        }
        catch
        {
            lm.Dispose();
            throw;
        }
    }
}
