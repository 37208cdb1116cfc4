using PeftSharp.Models.Llama;
using static TorchSharp.torch;

namespace PeftSharp.Evaluation;

/// <summary>The outcome of <see cref="Perplexity.Compute"/>.</summary>
/// <param name="Perplexity">exp(<paramref name="MeanNll"/>); lower is better, 1 is a perfect prediction.</param>
/// <param name="MeanNll">Mean negative log-likelihood per predicted token, in nats.</param>
/// <param name="PredictedTokens">Tokens predicted: each window's length minus one, summed.</param>
/// <param name="Windows">Number of windows the stream was cut into.</param>
/// <param name="Elapsed">Wall-clock time of the evaluation.</param>
public sealed record PerplexityResult(double Perplexity, double MeanNll, long PredictedTokens, int Windows, TimeSpan Elapsed);

/// <summary>
/// Perplexity of a causal LM on a token stream: the stream is cut into consecutive windows of the context length,
/// each window predicts its own tokens 2..n from the ones before (fp32 log-softmax), and the mean negative
/// log-likelihood over every predicted token is exponentiated.
/// </summary>
public static class Perplexity
{
    /// <summary>
    /// Cuts <paramref name="tokens"/> into consecutive, non-overlapping windows of <paramref name="window"/> tokens
    /// (the last may be shorter) and scores each on its own, without gradients. Unlike a sliding-window (strided)
    /// evaluation, the first tokens of each window see little context, so the result is somewhat higher than
    /// transformers' strided perplexity for the same model.
    /// </summary>
    /// <param name="model">The causal LM (with or without an adapter), in eval mode.</param>
    /// <param name="tokens">The token stream, at least 2 ids, all inside the vocabulary.</param>
    /// <param name="window">Tokens per window, at least 2; usually the model's context length.</param>
    /// <param name="batchSize">Equal-length windows run together in batches of this size; default 4.</param>
    /// <exception cref="ConfigurationException"><paramref name="window"/> or the stream is shorter than 2
    /// tokens.</exception>
    public static PerplexityResult Compute(LlamaForCausalLM model, IReadOnlyList<int> tokens, int window, int batchSize = 4)
    {
        if (window < 2) throw new ConfigurationException($"the perplexity window must hold at least 2 tokens, found {window}");
        if (tokens.Count < 2) throw new ConfigurationException($"perplexity needs at least 2 tokens, found {tokens.Count}");
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var windows = new List<long[]>();
        for (int start = 0; start + 1 < tokens.Count; start += window)
            windows.Add(tokens.Skip(start).Take(window).Select(t => (long)t).ToArray());
        double nll = 0;
        long predicted = 0;
        var device = ComputeDevice.Of(model);
        using (no_grad())
        {
            // Windows of equal length run as one batch; the last, shorter one runs alone.
            foreach (var group in windows.GroupBy(w => w.Length))
                foreach (var chunk in group.Chunk(batchSize))
                {
                    using var scope = NewDisposeScope();
                    var ids = tensor(chunk.SelectMany(w => w).ToArray(), new long[] { chunk.Length, group.Key }).to(device);
                    var logits = model.Forward(ids);
                    long t = group.Key;
                    var logp = logits.narrow(1, 0, t - 1).log_softmax(-1);
                    var target = ids.narrow(1, 1, t - 1).unsqueeze(-1);
                    nll -= logp.gather(-1, target).sum().to(ScalarType.Float64).item<double>();
                    predicted += chunk.Length * (t - 1);
                }
        }
        double mean = nll / predicted;
        return new PerplexityResult(Math.Exp(mean), mean, predicted, windows.Count, watch.Elapsed);
    }
}
