using System.Globalization;
using PeftSharp.Data;
using PeftSharp.Data.Classification;
using PeftSharp.Evaluation;
using PeftSharp.Models;
using PeftSharp.Training;

namespace PeftSharp.Cli.Commands;

/// <summary>`eval --task classification`: scores a classifier on a labelled file: table on stdout, JSON and a confusion-matrix PNG.</summary>
internal static class ClassificationEval
{
    public static int Run(PretrainedClassifier cls, DatasetConfig data, int batchSize, string? outputDir, TextWriter stdout)
    {
        using var _ = cls;
        var tokenizer = cls.Tokenizer ?? throw new PeftSharpException($"no tokenizer found for {cls.Location.Argument}: pass --tokenizer");
        var rows = ClassificationDataset.ForPrediction(data, tokenizer, cls.Labels);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var predictions = Predict(cls, rows.Select(r => r.Example).ToList(), batchSize);
        var metrics = predictions.Metrics(cls.Model.Labels);
        stdout.WriteLine(metrics.ToTable());
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"accuracy {metrics.Accuracy:F4}, macro F1 {metrics.Macro.F1:F4} on {metrics.Total:N0} texts ({watch.Elapsed.TotalSeconds:F1} s); mean loss {predictions.LossSum / metrics.Total:F4}"));
        if (outputDir is not null)
        {
            Directory.CreateDirectory(outputDir);
            IO.AtomicFile.WriteAllBytes(Path.Combine(outputDir, "metrics.json"), System.Text.Encoding.UTF8.GetBytes(metrics.ToJson()));
            var png = Path.Combine(outputDir, "confusion_matrix.png");
            stdout.WriteLine(ConfusionMatrixPlot.TryWrite(metrics, png)
                ? $"wrote {Path.Combine(outputDir, "metrics.json")} and {png}"
                : $"wrote {Path.Combine(outputDir, "metrics.json")} (the confusion-matrix plot could not be drawn)");
        }
        return 0;
    }

    /// <summary>The classifier's outputs for the examples, in their order, in eval mode.</summary>
    public static ClassifierPredictions Predict(PretrainedClassifier cls, IReadOnlyList<ClassificationExample> examples, int batchSize)
    {
        cls.Peft?.SetTraining(false);
        cls.Model.eval();
        return ClassifierPredictions.Run(cls.Model, new ClassificationBatchSource(examples, batchSize, cls.Model.Config.PadTokenId ?? 0, shuffle: false));
    }
}
