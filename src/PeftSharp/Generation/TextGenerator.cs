using PeftSharp.Models.Llama;
using static TorchSharp.torch;

namespace PeftSharp.Generation;

/// <summary>
/// Why <see cref="TextGenerator.Generate"/> stopped: <c>MaxNewTokens</c> when the token budget ran out,
/// <c>StopToken</c> when it produced one of the stop ids (which is included in the output).
/// </summary>
public enum StopReason
{
    /// <summary><see cref="SamplingOptions.MaxNewTokens"/> tokens were generated without meeting a stop id.</summary>
    MaxNewTokens,
    /// <summary>The last generated token is one of <see cref="SamplingOptions.StopTokenIds"/>.</summary>
    StopToken,
}

/// <summary>The outcome of one <see cref="TextGenerator.Generate"/> call.</summary>
/// <param name="PromptIds">The prompt as given.</param>
/// <param name="NewIds">The generated ids, without the prompt; a stop token that ended generation is the last
/// one.</param>
/// <param name="Reason">Why generation stopped.</param>
/// <param name="Elapsed">Wall-clock time, prompt processing included.</param>
public sealed record GenerationResult(IReadOnlyList<int> PromptIds, IReadOnlyList<int> NewIds, StopReason Reason, TimeSpan Elapsed)
{
    /// <summary>Generated tokens per wall-clock second (prompt processing time included).</summary>
    public double TokensPerSecond => NewIds.Count / Math.Max(Elapsed.TotalSeconds, 1e-9);
}

/// <summary>Autoregressive decoding of one sequence with a KV cache, streaming each new id to a callback.</summary>
public sealed class TextGenerator
{
    readonly LlamaForCausalLM model;

    /// <summary>
    /// A generator for <paramref name="model"/> (which may carry an adapter); it holds no state between calls.
    /// </summary>
    public TextGenerator(LlamaForCausalLM model) => this.model = model;

    /// <summary>
    /// Generates a continuation of <paramref name="promptIds"/> without gradients, one token at a time; the prompt is
    /// processed in one forward pass, then each step feeds only the new token when the KV cache is on.
    /// </summary>
    /// <param name="promptIds">The prompt's token ids (BOS included if the model expects it); at least one, all inside
    /// the vocabulary.</param>
    /// <param name="options">Sampling settings; validated first.</param>
    /// <param name="onToken">Called with each new id as soon as it is chosen (for streaming output); may be
    /// null.</param>
    /// <exception cref="ConfigurationException">The prompt is empty, holds an id outside the vocabulary, or an option
    /// is out of range.</exception>
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
        var device = ComputeDevice.Of(model);
        using (no_grad())
        {
            var pending = promptIds.ToArray();
            for (int step = 0; step < options.MaxNewTokens; step++)
            {
                using var scope = NewDisposeScope();
                var input = tensor(cache is null ? all.Select(i => (long)i).ToArray() : pending.Select(i => (long)i).ToArray()).unsqueeze(0).to(device);
                var logits = model.Forward(input, cache: cache);
                int next = sampler.Next(logits[0, -1].to(CPU), all); // sampling is host work on one vocabulary row
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
