using System.CommandLine;
using System.Globalization;
using PeftSharp.Data;
using PeftSharp.Evaluation;
using PeftSharp.Training;

namespace PeftSharp.Cli.Commands;

/// <summary>`peftsharp eval`: perplexity of a model (optionally quantized, optionally with an adapter) on a text file.</summary>
internal static class EvalCommand
{
    public static Command Create(TextWriter stdout)
    {
        var modelOptions = new ModelOptions();
        var data = new Option<string>("--data", "-d") { Description = "Plain text file to measure perplexity on", Required = true };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Use the first N tokens of the file (0 = all)", DefaultValueFactory = _ => 0 };
        var window = new Option<int?>("--window") { Description = "Tokens per window (default: the model's max_position_embeddings, at most 2048)" };
        var batch = new Option<int>("--batch-size") { Description = "Windows per forward pass", DefaultValueFactory = _ => 4 };
        var format = new Option<string?>("--format") { Description = "Evaluate a dataset file (jsonl/json/csv/tsv/parquet) in this format (text, alpaca, messages, prompt_completion, auto): loss on the trained tokens only" };
        var chatTemplate = new Option<string?>("--chat-template") { Description = "Chat template for messages data (chatml, llama3, llama2, alpaca)" };
        var task = new Option<string>("--task") { Description = "perplexity (language model), classification (accuracy, precision/recall/F1, confusion matrix) or asr (Whisper WER/CER on a manifest)", DefaultValueFactory = _ => "perplexity" };
        var output = new Option<string?>("--output", "-o") { Description = "classification: folder for metrics.json and confusion_matrix.png; asr: for metrics.json and transcripts.jsonl" };
        var cmd = new Command("eval", "Measure perplexity on a text file or a dataset's responses, or a classifier's accuracy/precision/recall/F1") { data, maxTokens, window, batch, format, chatTemplate, task, output };
        modelOptions.AddTo(cmd);
        var classification = new ClassificationOptions().AddTo(cmd, withBatchSize: false);
        var asr = new AsrEval().AddTo(cmd);
        cmd.SetAction(r =>
        {
            var path = r.GetValue(data)!;
            if (!File.Exists(path)) throw new ConfigurationException($"--data {path} not found: pass an existing file");
            int batchSize = ClassificationOptions.Positive(r.GetValue(batch), "--batch-size");
            if (r.GetValue(window) is < 2 and var w0) throw new ConfigurationException($"--window must be at least 2 tokens, found {w0}");
            if (r.GetValue(maxTokens) < 0) throw new ConfigurationException($"--max-tokens must be >= 0 (0 = the whole file), found {r.GetValue(maxTokens)}");
            switch (r.GetValue(task))
            {
                case "classification":
                    var dataset = classification.Dataset(r, path);
                    return ClassificationEval.Run(modelOptions.LoadClassifier(r), dataset, batchSize, r.GetValue(output), stdout);
                case "asr": return asr.Run(r, modelOptions, path, batchSize, r.GetValue(output), stdout);
                case "perplexity" or "ppl": break;
                case var t: throw new ConfigurationException($"--task {t} is not known: use perplexity, classification or asr");
            }
            var (lm, _) = modelOptions.Load(r);
            using var _ = lm;
            var tok = lm.Tokenizer ?? throw new PeftSharpException($"no tokenizer found for {lm.Location.Argument}: pass --tokenizer");
            if (r.GetValue(format) is { } fmt)
            {
                int seq = r.GetValue(window) ?? Math.Min(lm.Config.MaxPositionEmbeddings, 2048);
                var built = DatasetBuilder.Build(new DatasetConfig { Path = path, Format = fmt, ChatTemplate = r.GetValue(chatTemplate), MaxSeqLength = seq }, tok);
                var source = new DataBatchSource(built.Train, new BatcherOptions { BatchSize = r.GetValue(batch), MaxSeqLength = seq, Shuffle = false, PadId = tok.PadId ?? tok.EosId ?? 0 });
                var (loss, ppl, predicted) = DatasetLoss.Compute(lm.Model, source);
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"perplexity {ppl:F4} (mean NLL {loss:F5} over {predicted:N0} predicted tokens of {built.Train.Count:N0} examples)"));
                return 0;
            }
            var ids = tok.Encode(File.ReadAllText(path), addSpecialTokens: true);
            int n = r.GetValue(maxTokens);
            var tokens = n > 0 ? ids.Take(n).ToList() : ids.ToList();
            int w = r.GetValue(window) ?? Math.Min(lm.Config.MaxPositionEmbeddings, 2048);
            var result = Perplexity.Compute(lm.Model, tokens, w, r.GetValue(batch));
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"perplexity {result.Perplexity:F4} (mean NLL {result.MeanNll:F5} over {result.PredictedTokens:N0} predicted tokens, {result.Windows} windows of {w}, {result.Elapsed.TotalSeconds:F1} s)"));
            return 0;
        });
        return cmd;
    }
}
