using System.Text;
using PeftSharp.Generation;
using PeftSharp.IO;
using PeftSharp.Models;
using PeftSharp.Peft;

namespace PeftSharp.Cli.Commands;

/// <summary>
/// `sample_prompts:` in a causal-LM config: each prompt is completed greedily before and after training and both
/// are printed and saved as samples.md in the output folder, so a run shows what it taught the model, not only a loss.
/// </summary>
internal sealed class TrainingSamples(PretrainedCausalLM lm, PeftModel? peft, IReadOnlyList<string> prompts, int maxNewTokens)
{
    public const string FileName = "samples.md";

    public bool Enabled => prompts.Count > 0;

    /// <summary>Greedy completions of every prompt (the model left in eval mode; the trainer sets its own mode).</summary>
    public IReadOnlyList<string> Generate()
    {
        var tokenizer = lm.Tokenizer!;
        peft?.SetTraining(false);
        lm.Model.eval();
        var generator = new TextGenerator(lm.Model);
        var options = new SamplingOptions { MaxNewTokens = maxNewTokens, StopTokenIds = lm.StopTokenIds() };
        return prompts.Select(p =>
        {
            var ids = tokenizer.Encode(p);
            return tokenizer.Decode(ids.Concat(generator.Generate(ids, options).NewIds));
        }).ToList();
    }

    public static void Print(TextWriter w, string heading, IReadOnlyList<string> texts)
    {
        w.WriteLine(heading);
        foreach (var t in texts) w.WriteLine("  > " + t.ReplaceLineEndings(" ").Trim());
    }

    /// <summary>samples.md: each prompt with its before and after completion.</summary>
    public void Save(string outputDir, IReadOnlyList<string> before, IReadOnlyList<string> after)
    {
        var md = new StringBuilder("# Samples (greedy, ").Append(maxNewTokens).Append(" new tokens)\n");
        for (int i = 0; i < prompts.Count; i++)
            md.Append($"\n## `{prompts[i]}`\n\nBefore training:\n\n> {Quote(before[i])}\n\nAfter training:\n\n> {Quote(after[i])}\n");
        AtomicFile.WriteAllText(Path.Combine(outputDir, FileName), md.ToString());
    }

    static string Quote(string text) => text.Trim().ReplaceLineEndings("\n> ");
}
