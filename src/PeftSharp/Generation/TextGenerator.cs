using PeftSharp.Models.Llama;
using static TorchSharp.torch;

namespace PeftSharp.Generation;

public enum StopReason { MaxNewTokens, StopToken }

public sealed record GenerationResult(IReadOnlyList<int> PromptIds, IReadOnlyList<int> NewIds, StopReason Reason, TimeSpan Elapsed)
{
    public double TokensPerSecond => NewIds.Count / Math.Max(Elapsed.TotalSeconds, 1e-9);
}

/// <summary>Autoregressive decoding of one sequence with a KV cache, streaming each new id to a callback.</summary>
public sealed class TextGenerator
{
    readonly LlamaForCausalLM model;

    public TextGenerator(LlamaForCausalLM model) => this.model = model;

    public GenerationResult Generate(IReadOnlyList<int> promptIds, SamplingOptions options, Action<int>? onToken = null)
    {
        if (promptIds.Count == 0) throw new ConfigurationException("the prompt has no tokens: give a prompt, or let the tokenizer add BOS");
        int vocab = model.Config.VocabSize;
        foreach (var id in promptIds)
            if (id < 0 || id >= vocab) throw new ConfigurationException($"prompt token id {id} is outside the model's vocabulary (0..{vocab - 1})");
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var all = new List<int>(promptIds);
        var generated = new List<int>();
        var stop = new HashSet<int>(options.StopTokenIds);
        var reason = StopReason.MaxNewTokens;
        using var sampler = new TokenSampler(options);
        using var cache = options.UseKvCache ? model.NewCache(promptIds.Count + options.MaxNewTokens) : null;
        using (no_grad())
        {
            var pending = promptIds.ToArray();
            for (int step = 0; step < options.MaxNewTokens; step++)
            {
                using var scope = NewDisposeScope();
                var input = tensor(cache is null ? all.Select(i => (long)i).ToArray() : pending.Select(i => (long)i).ToArray()).unsqueeze(0);
                var logits = model.Forward(input, cache: cache);
                int next = sampler.Next(logits[0, -1], all);
                all.Add(next);
                generated.Add(next);
                onToken?.Invoke(next);
                if (stop.Contains(next))
                {
                    reason = StopReason.StopToken;
                    break;
                }
                pending = new[] { next };
            }
        }
        return new GenerationResult(promptIds, generated, reason, watch.Elapsed);
    }
}
