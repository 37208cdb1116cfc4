using PeftSharp.Cli.Config;
using PeftSharp.Data;
using PeftSharp.Data.Classification;
using PeftSharp.IO.HuggingFace;
using PeftSharp.Training;

namespace PeftSharp.Cli.Commands;

/// <summary>
/// What `train` checks before it loads anything: the model can be found, output_dir is usable and outside the model
/// folder, the resume point exists, the tokenizer and data files exist and the data has the configured fields. Every
/// problem that needs no model is reported here, in milliseconds, with nothing written.
/// </summary>
internal static class TrainPreflight
{
    /// <param name="hub">The Hub settings for a base_model that must be downloaded (with progress on the command's stderr).</param>
    public static void Check(TrainConfig c, string configDir, HubOptions hub)
    {
        var model = ModelLocator.Resolve(TrainCommand.Locate(c.BaseModel, configDir), hub);
        var o = c.Trainer;
        OutputFolder.Check(o.OutputDir, "output_dir", model.Folder, mustBeNew: false);
        CheckResume(o);
        if (c.Tokenizer is { } tokenizer && TrainCommand.Locate(tokenizer, configDir) is var t && !File.Exists(t) && !Directory.Exists(t))
            throw new ConfigurationException($"tokenizer '{tokenizer}' not found: fix the path, or remove tokenizer: to use the model's own");
        var labels = c.Labels is null ? null : new LabelMap(c.Labels);
        var folderTemplate = c.Task == "causal_lm" ? TrainCommand.FolderChatTemplate(model.Folder) : null;
        for (int i = 0; i < c.Datasets.Count; i++)
        {
            var d = Located(c.Datasets[i], configDir);
            var where = $"datasets[{i}]";
            switch (c.Task)
            {
                case "classification": ClassificationDataset.Preflight(d, labels, where); break;
                case "asr": DatasetPreflight.CheckFiles(d, where); break;
                default: DatasetPreflight.CheckFormat(d with { ChatTemplate = d.ChatTemplate ?? folderTemplate }, where); break;
            }
        }
    }

    /// <summary>The dataset with path and eval_path found as <see cref="TrainCommand.Locate"/> finds them.</summary>
    public static DatasetConfig Located(DatasetConfig d, string configDir) => d with
    {
        Path = TrainCommand.Locate(d.Path, configDir),
        EvalPath = d.EvalPath is null ? null : TrainCommand.Locate(d.EvalPath, configDir),
    };

    static void CheckResume(TrainerOptions o)
    {
        var store = new CheckpointStore(o.OutputDir, 1);
        // The resume point must exist (the store's own check and message); without one, an earlier run must not be there.
        if (store.Resolve(o.ResumeFromCheckpoint) is null && File.Exists(Path.Combine(o.OutputDir, CheckpointStore.LatestFile)))
            throw new ConfigurationException($"{o.OutputDir} already holds a run: pass --resume to continue it, or choose another output_dir");
    }
}
