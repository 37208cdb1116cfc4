using PeftSharp.Models.Llama;
using static PeftSharp.Tests.Peft.LoraTestKit;

namespace PeftSharp.Tests.Adapters;

/// <summary>Analytic gradients of the next-token loss against central finite differences (fp64 models).</summary>
internal static class FiniteDifferences
{
    /// <summary>Runs backward once, then compares each listed entry's gradient with (L(p+h) - L(p-h)) / 2h (h = 1e-6); returns the max error.</summary>
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
            worst = Math.Max(worst, MethodTestKit.FiniteDifferenceError(L, p, indices, log, ""));
        }
        Assert.True(largest > 1e-4, "gradients are trivially small: " + largest);
        TestContext.Current.TestOutputHelper?.WriteLine(string.Join("\n", log));
        return worst;
    }
}
