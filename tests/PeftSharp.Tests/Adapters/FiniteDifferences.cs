using PeftSharp.Models.Llama;
using static PeftSharp.Tests.Peft.LoraTestKit;

namespace PeftSharp.Tests.Adapters;

/// <summary>Analytic gradients of the next-token loss against central finite differences (fp64 models).</summary>
internal static class FiniteDifferences
{
    const double H = 1e-6;

    /// <summary>Runs backward once, then compares each listed entry's gradient with (L(p+h) - L(p-h)) / 2h; returns the max error.</summary>
    public static double Check(LlamaForCausalLM model, Tensor ids, params (Tensor Param, long[] FlatIndices)[] checks)
    {
        using (NewDisposeScope()) Loss(model, ids).backward();
        double L()
        {
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            return Loss(model, ids).item<double>();
        }
        double worst = 0, largest = 0;
        var log = new List<string>();
        foreach (var (p, indices) in checks)
        {
            Assert.True(p.grad is not null, "no gradient reached the parameter");
            largest = Math.Max(largest, p.grad!.abs().max().item<double>());
            var flat = p.view(-1);
            foreach (var k in indices)
            {
                double analytic = p.grad.view(-1)[k].item<double>();
                using (no_grad()) flat[k].add_(H);
                double plus = L();
                using (no_grad()) flat[k].sub_(2 * H);
                double minus = L();
                using (no_grad()) flat[k].add_(H);
                double fd = (plus - minus) / (2 * H);
                worst = Math.Max(worst, Math.Abs(analytic - fd));
                log.Add($"[{k}]: analytic {analytic:E6} fd {fd:E6}");
            }
        }
        Assert.True(largest > 1e-4, "gradients are trivially small: " + largest);
        TestContext.Current.TestOutputHelper?.WriteLine(string.Join("\n", log));
        return worst;
    }
}
