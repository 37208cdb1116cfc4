using PeftSharp.Evaluation;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Evaluation;

public class PerplexityTests
{
    [Fact]
    public void Perplexity_equals_exp_of_the_mean_NLL_computed_token_by_token()
    {
        var model = TinyModels.Random(TinyModels.Config(), seed: 12);
        var rng = new Random(4);
        var tokens = Enumerable.Range(0, 23).Select(_ => rng.Next(97)).ToArray();
        const int window = 6;
        // Reference: every window separately, one position at a time.
        double nll = 0;
        int count = 0;
        using (no_grad())
            for (int s = 0; s + 1 < tokens.Length; s += window)
            {
                var w = tokens.Skip(s).Take(window).Select(t => (long)t).ToArray();
                var logits = model.Forward(tensor(w).unsqueeze(0))[0];
                for (int i = 0; i + 1 < w.Length; i++)
                {
                    var row = logits[i].to(ScalarType.Float64);
                    var logZ = Math.Log(row.exp().sum().item<double>());
                    nll += logZ - row[w[i + 1]].item<double>();
                    count++;
                }
            }
        var r = Perplexity.Compute(model, tokens, window, batchSize: 3);
        Assert.Equal(count, r.PredictedTokens);   // 22 tokens predicted in 4 windows (5 + 5 + 5 + 4)... plus the partial one
        Assert.Equal(4, r.Windows);
        Assert.Equal(Math.Exp(nll / count), r.Perplexity, 1e-4);
    }

    [Fact]
    public void Stories260K_perplexity_on_tinyshakespeare_is_finite_and_far_below_uniform()
    {
        var model = Fixtures.Require("models", "stories260K");
        var data = Fixtures.Require("data", "tinyshakespeare.txt");
        var r = Support.CliRunner.Run("eval", "-m", model, "--data", data, "--max-tokens", "2000", "--window", "512");
        Assert.True(r.ExitCode == 0, r.Err);
        var ppl = double.Parse(r.Out.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(ppl, 2, 512); // a 512-token vocabulary: uniform guessing would be 512
    }

    [Fact]
    public void Too_few_tokens_or_a_tiny_window_are_rejected()
    {
        var model = TinyModels.Random(TinyModels.Config(), seed: 1);
        Assert.Contains("at least 2 tokens", Assert.Throws<ConfigurationException>(() => Perplexity.Compute(model, new[] { 1 }, 8)).Message);
        Assert.Contains("window", Assert.Throws<ConfigurationException>(() => Perplexity.Compute(model, new[] { 1, 2, 3 }, 1)).Message);
    }
}

public class DatasetEvalCliTests
{
    [Fact]
    public void Eval_on_an_instruction_dataset_scores_the_responses_only()
    {
        var model = Fixtures.Require("models", "stories260K");
        var data = Fixtures.Require("data", "alpaca_seed_tasks.jsonl");
        var r = Support.CliRunner.Run("eval", "-m", model, "--data", data, "--format", "alpaca", "--chat-template", "alpaca", "--window", "256");
        Assert.True(r.ExitCode == 0, r.Err);
        var ppl = double.Parse(r.Out.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(ppl, 2, 512);
        Assert.Contains("examples", r.Out);
        var bad = Support.CliRunner.Run("eval", "-m", model, "--data", data, "--format", "messages");
        Assert.Equal(1, bad.ExitCode);
    }
}
