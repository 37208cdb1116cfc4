using System.CommandLine;
using System.Globalization;
using PeftSharp.Evaluation;

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
        var cmd = new Command("eval", "Measure perplexity on a text file") { data, maxTokens, window, batch };
        modelOptions.AddTo(cmd);
        cmd.SetAction(r =>
        {
            var path = r.GetValue(data)!;
            if (!File.Exists(path)) throw new ConfigurationException($"--data {path} not found");
            var (lm, _) = modelOptions.Load(r);
            using var _ = lm;
            var tok = lm.Tokenizer ?? throw new PeftSharpException($"no tokenizer found for {lm.Location.Argument}: pass --tokenizer");
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
