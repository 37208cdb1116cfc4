using System.CommandLine;
using PeftSharp.Models;

namespace PeftSharp.Cli.Commands;

/// <summary>`peftsharp convert`: write any loadable model (e.g. a llama2.c checkpoint) as a Hugging Face folder.</summary>
internal static class ConvertCommand
{
    public static Command Create(TextWriter stdout)
    {
        var modelOptions = new ModelOptions();
        var output = new Option<string>("--out", "-o") { Description = "Output folder (must not exist or be empty)", Required = true };
        var cmd = new Command("convert", "Save a model (llama2.c .bin, HF folder) as a Hugging Face model folder") { output };
        modelOptions.AddTo(cmd);
        cmd.SetAction(r =>
        {
            var outDir = r.GetValue(output)!;
            OutputFolder.Check(outDir, "--out", modelOptions.Check(r).Folder, mustBeNew: true);
            var (lm, peft) = modelOptions.Load(r);
            using var _ = lm;
            if (peft is not null) peft.MergeAndUnload();
            ModelFolderWriter.Save(lm.Model, outDir, lm.TokenizerFiles());
            stdout.WriteLine($"wrote {Path.GetFullPath(outDir)} ({lm.Config.ModelType}, {ModelSummary.CountParameters(lm.Model):N0} parameters, {ModelFolderWriter.DTypeName(lm.Model.DType)})");
            return 0;
        });
        return cmd;
    }
}
