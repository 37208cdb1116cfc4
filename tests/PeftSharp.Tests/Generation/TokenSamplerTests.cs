using PeftSharp.Generation;

namespace PeftSharp.Tests.Generation;

public class TokenSamplerTests
{
    static float[] Values(Tensor t) => t.data<float>().ToArray();

    [Fact]
    public void Repetition_penalty_divides_positive_and_multiplies_negative_scores()
    {
        var logits = tensor(new[] { 2f, -2f, 1f, 4f });
        var penalized = Values(TokenSampler.ApplyRepetitionPenalty(logits, new[] { 0, 1, 1 }, 2.0));
        Assert.Equal(new[] { 1f, -4f, 1f, 4f }, penalized);
    }

    [Fact]
    public void Top_k_keeps_the_k_largest()
    {
        var kept = Values(TokenSampler.TopK(tensor(new[] { 0.1f, 3f, 2f, -1f, 2.5f }), 2));
        Assert.Equal(new[] { float.NegativeInfinity, 3f, float.NegativeInfinity, float.NegativeInfinity, 2.5f }, kept);
    }

    [Fact]
    public void Top_p_keeps_the_smallest_set_reaching_p()
    {
        // probabilities 0.5, 0.3, 0.15, 0.05 (in shuffled order)
        var probs = new[] { 0.15, 0.5, 0.05, 0.3 };
        var logits = tensor(probs.Select(p => (float)Math.Log(p)).ToArray());
        var kept = Values(TokenSampler.TopP(logits, 0.75)).Select(float.IsFinite).ToArray();
        Assert.Equal(new[] { false, true, false, true }, kept);          // 0.5 + 0.3 reaches 0.75
        var one = Values(TokenSampler.TopP(logits, 0.01)).Select(float.IsFinite).ToArray();
        Assert.Equal(new[] { false, true, false, false }, one);          // never empty
    }

    [Fact]
    public void Greedy_picks_argmax_and_sampling_is_reproducible_with_a_seed()
    {
        var logits = tensor(new[] { 0.1f, 0.2f, 3f, 0.3f });
        using (var greedy = new TokenSampler(new SamplingOptions())) Assert.Equal(2, greedy.Next(logits, Array.Empty<int>()));
        var flat = zeros(50);
        int[] Draw(long seed)
        {
            using var s = new TokenSampler(new SamplingOptions { DoSample = true, Temperature = 1, Seed = seed });
            return Enumerable.Range(0, 20).Select(_ => s.Next(flat, Array.Empty<int>())).ToArray();
        }
        Assert.Equal(Draw(7), Draw(7));
        Assert.NotEqual(Draw(7), Draw(8));
    }

    [Theory]
    [InlineData(-1, 1.0, 0, 1.0)]
    [InlineData(1, -0.5, 0, 1.0)]
    [InlineData(1, 1.0, -3, 1.0)]
    [InlineData(1, 1.0, 0, 1.5)]
    [InlineData(1, 1.0, 0, 0.0)]
    public void Invalid_options_are_rejected_with_the_option_named(int maxNew, double temperature, int topK, double topP)
    {
        var o = new SamplingOptions { MaxNewTokens = maxNew, Temperature = temperature, TopK = topK, TopP = topP };
        var e = Assert.Throws<ConfigurationException>(o.Validate);
        Assert.Matches("max_new_tokens|temperature|top_k|top_p", e.Message);
    }
}
