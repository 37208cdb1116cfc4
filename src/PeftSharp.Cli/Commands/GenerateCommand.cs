using System.CommandLine;
using PeftSharp.Generation;
using PeftSharp.Models;
using PeftSharp.Tokenization;

namespace PeftSharp.Cli.Commands;

/// <summary>`peftsharp generate`: load a model and stream a continuation of a prompt.</summary>
internal static class GenerateCommand
{
    public static Command Create(TextWriter stdout)
    {
        var modelOptions = new ModelOptions();
        var threads = CommonOptions.Threads();
        var prompt = new Option<string>("--prompt", "-p") { Description = "Text to continue (empty = start from BOS)", DefaultValueFactory = _ => "" };
        var maxNew = new Option<int?>("--max-new-tokens", "-n") { Description = "Tokens to generate (default: generation_config.json's, else 128)" };
        var temperature = new Option<double?>("--temperature", "-t") { Description = "Sampling temperature; 0 = greedy (default: greedy unless generation_config.json samples)" };
        var topK = new Option<int?>("--top-k") { Description = "Sample only from the k most likely tokens (0 = off)" };
        var topP = new Option<double?>("--top-p") { Description = "Sample from the smallest set of tokens whose probability reaches p (1 = off)" };
        var repetition = new Option<double?>("--repetition-penalty") { Description = "Penalty for tokens already present (1 = off)" };
        var seed = new Option<long?>("--seed") { Description = "Random seed for sampling" };
        var noBos = new Option<bool>("--no-special-tokens") { Description = "Do not add BOS to the prompt" };
        var ignoreEos = new Option<bool>("--ignore-eos") { Description = "Keep generating after EOS, up to --max-new-tokens" };
        var stats = new Option<bool>("--stats") { Description = "Print token counts and speed after the text" };
        var cmd = new Command("generate", "Generate text from a prompt")
        {
            threads, prompt, maxNew, temperature, topK, topP, repetition, seed, noBos, ignoreEos, stats,
        };
        modelOptions.AddTo(cmd);
        cmd.SetAction(r =>
        {
            CommonOptions.ApplyThreads(r.GetValue(threads));
            if (r.GetValue(maxNew) is < 1 and var n) throw new ConfigurationException($"--max-new-tokens must be at least 1, found {n}");
            // The values given, checked before the model loads (the defaults come from its generation_config.json).
            new SamplingOptions
            {
                Temperature = r.GetValue(temperature) ?? 1, TopK = r.GetValue(topK) ?? 0, TopP = r.GetValue(topP) ?? 1,
                RepetitionPenalty = r.GetValue(repetition) ?? 1,
            }.Validate();
            var (lm, peft) = modelOptions.Load(r);
            using var _ = lm;
            var tok = lm.Tokenizer ?? throw new PeftSharpException(
                $"no tokenizer found for {lm.Location.Argument}: put tokenizer.json / tokenizer.model / tokenizer.bin beside the model or pass --tokenizer");
            var g = lm.Generation;
            double? t = r.GetValue(temperature);
            var options = new SamplingOptions
            {
                MaxNewTokens = r.GetValue(maxNew) ?? g?.MaxNewTokens ?? 128,
                DoSample = t is { } tv ? tv > 0 : g?.DoSample ?? false,
                Temperature = t is > 0 ? t.Value : g?.Temperature ?? 1.0,
                TopK = r.GetValue(topK) ?? g?.TopK ?? 0,
                TopP = r.GetValue(topP) ?? g?.TopP ?? 1.0,
                RepetitionPenalty = r.GetValue(repetition) ?? g?.RepetitionPenalty ?? 1.0,
                Seed = r.GetValue(seed),
                StopTokenIds = r.GetValue(ignoreEos) ? Array.Empty<int>() : lm.StopTokenIds(),
            };
            var text = r.GetValue(prompt)!;
            var ids = tok.Encode(text, addSpecialTokens: !r.GetValue(noBos)).ToList();
            if (ids.Count == 0)
            {
                if (tok.BosId is not { } bos) throw new ConfigurationException("the prompt is empty and the tokenizer has no BOS token: give --prompt");
                ids.Add(bos);
            }
            stdout.Write(text);
            // Prime the stream with the prompt so the first new token keeps its leading space.
            var stream = new TokenStreamDecoder(tok);
            foreach (var id in ids) stream.Push(id);
            stream.Flush();
            var result = new TextGenerator(lm.Model).Generate(ids, options, id =>
            {
                if (!options.StopTokenIds.Contains(id)) stdout.Write(stream.Push(id));
                stdout.Flush();
            });
            stdout.Write(stream.Flush());
            stdout.WriteLine();
            if (r.GetValue(stats))
                stdout.WriteLine($"[{result.PromptIds.Count} prompt tokens, {result.NewIds.Count} generated, {result.TokensPerSecond:F1} tokens/s, stopped by {result.Reason}]");
            return 0;
        });
        return cmd;
    }
}
