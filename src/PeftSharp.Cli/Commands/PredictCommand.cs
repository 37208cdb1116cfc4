using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using PeftSharp.Data.Classification;
using PeftSharp.Evaluation;
using PeftSharp.Models;

namespace PeftSharp.Cli.Commands;

/// <summary>`peftsharp predict`: labels and probabilities for each text of a file (or of --text), as JSON lines.</summary>
internal static class PredictCommand
{
    public static Command Create(TextWriter stdout)
    {
        var modelOptions = new ModelOptions();
        var data = new Option<string?>("--data", "-d") { Description = "File of texts (CSV/TSV/JSONL/JSON/Parquet)" };
        var text = new Option<string[]>("--text") { Description = "A text to classify (repeatable), instead of --data" };
        var output = new Option<string?>("--output", "-o") { Description = "Write the predictions to this JSONL file (default: stdout)" };
        var cmd = new Command("predict", "Classify texts with a classifier (a model with a score head, or a base model + --adapter trained with task: classification)")
        {
            data, text, output,
        };
        modelOptions.AddTo(cmd);
        var classification = new ClassificationOptions().AddTo(cmd);
        cmd.SetAction(r =>
        {
            var path = r.GetValue(data);
            var texts = r.GetValue(text) ?? [];
            if ((path is null) == (texts.Length == 0)) throw new ConfigurationException("give either --data FILE or one or more --text \"...\"");
            if (path is not null && !File.Exists(path)) throw new ConfigurationException($"--data {path} not found: pass an existing file");
            var config = classification.Dataset(r, path ?? "");
            int batchSize = classification.BatchSize(r);
            if (r.GetValue(output) is { } outFile && Path.GetDirectoryName(Path.GetFullPath(outFile)) is { } folder && (!Directory.Exists(folder) || Directory.Exists(outFile)))
                throw new ConfigurationException(Directory.Exists(outFile)
                    ? $"--output {outFile} is a folder: give a file path for the JSONL predictions"
                    : $"--output {outFile}: its folder {folder} does not exist: create it first or write elsewhere");
            using var cls = modelOptions.LoadClassifier(r);
            var tokenizer = cls.Tokenizer ?? throw new PeftSharpException($"no tokenizer found for {cls.Location.Argument}: pass --tokenizer");
            var rows = path is not null
                ? ClassificationDataset.ForPrediction(config, tokenizer, cls.Labels)
                : texts.Select(t => (t, new ClassificationExample(tokenizer.Encode(t, addSpecialTokens: true).Take(config.MaxSeqLength).ToArray(), -1))).ToList();
            var predictions = ClassificationEval.Predict(cls, rows.Select(x => x.Item2).ToList(), batchSize);
            var outPath = r.GetValue(output);
            void WriteAll(TextWriter target)
            {
                for (int i = 0; i < rows.Count; i++) target.WriteLine(Line(rows[i].Item1, predictions, i, cls.Model.Labels));
            }
            if (outPath is null)
            {
                WriteAll(stdout);
                return 0;
            }
            IO.AtomicFile.Write(outPath, stream =>
            {
                using var writer = new StreamWriter(stream, leaveOpen: true);
                WriteAll(writer);
            });
            stdout.WriteLine($"wrote {rows.Count:N0} predictions to {outPath}");
            return 0;
        });
        return cmd;
    }

    static string Line(string text, ClassifierPredictions p, int i, IReadOnlyList<string> labels)
    {
        var probs = new JsonObject();
        for (int k = 0; k < labels.Count; k++) probs[labels[k]] = Math.Round(p.Probabilities[i][k], 6);
        var o = new JsonObject { ["text"] = text, ["label"] = labels[p.Predicted[i]], ["score"] = Math.Round(p.Probabilities[i][p.Predicted[i]], 6), ["probabilities"] = probs };
        if (p.Gold[i] >= 0) o["gold"] = labels[p.Gold[i]];
        return o.ToJsonString(new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }
}
