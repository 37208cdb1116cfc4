using System.Globalization;
using PeftSharp.Cli.Config;
using PeftSharp.Data.Classification;
using PeftSharp.Models;
using PeftSharp.Peft;
using PeftSharp.Training;
using PeftSharp.Training.Objectives;

namespace PeftSharp.Cli.Commands;

/// <summary>
/// `task: classification`: a score head on the decoder, trained in full (modules_to_save) while the body gets the
/// configured adapter (or everything trains, with adapter: full). Labels come from the `labels` list or the data.
/// </summary>
internal static class ClassifierTraining
{
    public static int Run(TrainConfig c, string configDir, TextWriter stdout)
    {
        if (c.Datasets.Count != 1) throw new ConfigurationException("task: classification takes one dataset (use eval_path or eval_split for evaluation)");
        var d = TrainPreflight.Located(c.Datasets[0], configDir);
        var options = c.LoadOptions(configDir);
        var baseModel = TrainCommand.Locate(c.BaseModel, configDir);
        // The label set must be known before the head is built: from the config, else from the training file.
        ClassificationData? data = null;
        if (c.Labels is null)
        {
            var tok = PretrainedCausalLM.LoadTokenizer(baseModel, options.TokenizerPath)
                ?? throw new PeftSharpException($"no tokenizer found for {baseModel}: set tokenizer: in the config");
            data = ClassificationDataset.Build(d, tok);
        }
        using var cls = PretrainedClassifier.Load(baseModel, options, c.Labels ?? data!.Labels.Names, seed: c.Trainer.Seed);
        var tokenizer = cls.Tokenizer ?? throw new PeftSharpException($"no tokenizer found for {baseModel}: set tokenizer: in the config");
        data ??= ClassificationDataset.Build(d, tokenizer, cls.Labels);
        if (cls.NewHead) stdout.WriteLine($"score head: new, {data.Labels.Count} labels, initialised normal(0, 0.02) (the checkpoint has none)");
        var trainLabels = data.Train.Select(e => e.Label).ToList();
        var weights = ClassWeights.Resolve(c.ClassWeights, trainLabels, data.Labels);
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"dataset {d.Path}: {data.Train.Count:N0} train / {data.Eval.Count:N0} eval texts, {data.Labels.Count} labels ({Describe(data.Labels, trainLabels)}), {data.RecordsSkipped} rows skipped, {data.Truncated} truncated"));
        if (weights is not null) stdout.WriteLine("class weights: " + string.Join(", ", data.Labels.Names.Zip(weights, (n, w) => string.Create(CultureInfo.InvariantCulture, $"{n} {w:F3}"))));
        PeftModel? peft = null;
        if (c.Adapter is { } method)
        {
            // PEFT's SEQ_CLS recipe: the new head trains in full beside the adapter and is saved with it.
            var config = method.WithTokenizer(tokenizer) with
            {
                BaseModelNameOrPath = c.BaseModel,
                TaskType = "SEQ_CLS",
                ModulesToSave = method.ModulesToSave.Contains("score") ? method.ModulesToSave : [.. method.ModulesToSave, "score"],
            };
            peft = PeftModel.Create(cls.Model, config, seed: c.Trainer.Seed);
            stdout.WriteLine(peft.TrainableReport());
        }
        int pad = cls.Model.Config.PadTokenId ?? 0;
        var train = new ClassificationBatchSource(data.Train, c.Trainer.MicroBatchSize, pad, shuffle: true, (int)c.Trainer.Seed);
        var eval = data.Eval.Count > 0 ? new ClassificationBatchSource(data.Eval, c.Trainer.MicroBatchSize, pad, shuffle: false) : null;
        if (eval is not null) stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"majority-class baseline on eval: accuracy {MajorityAccuracy(data):F4}"));
        return TrainCommand.RunTrainer(c, new SequenceClassificationObjective(cls.Model, weights), peft, train, eval, cls.TokenizerFiles(), stdout);
    }

    static string Describe(LabelMap labels, IReadOnlyList<int> train) =>
        string.Join(", ", labels.Names.Select((n, i) => $"{n}: {train.Count(l => l == i)}"));

    /// <summary>The accuracy of always answering the training set's most frequent label, on the eval set.</summary>
    public static double MajorityAccuracy(ClassificationData data)
    {
        int majority = data.Train.GroupBy(e => e.Label).OrderByDescending(g => g.Count()).ThenBy(g => g.Key).First().Key;
        return data.Eval.Count == 0 ? 0 : (double)data.Eval.Count(e => e.Label == majority) / data.Eval.Count;
    }
}
