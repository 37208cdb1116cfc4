using PeftSharp.Training.Optimization;

namespace PeftSharp.Tests.Training;

public class AdamWTests
{
    [Fact]
    public void Matches_torchsharp_AdamW_for_20_steps()
    {
        using var ours = new TrainingProblem();
        using var reference = new TrainingProblem();
        var options = new AdamWOptions { LearningRate = 1e-2, WeightDecay = 0.1 };
        // torch decays every parameter of a single group, so decay everything here too.
        using var opt = new AdamWOptimizer(ours.Named(), options, WeightDecayRules.All);
        using var torchOpt = optim.AdamW(reference.Params, lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.1);
        for (int i = 0; i < 20; i++)
        {
            opt.ZeroGrad();
            ours.Backward();
            opt.Step();
            torchOpt.zero_grad();
            reference.Backward();
            torchOpt.step();
        }
        double worst = 0;
        foreach (var ((_, a), (_, b)) in ours.Named().Zip(reference.Named()))
            worst = Math.Max(worst, (a - b).abs().max().item<float>());
        TestContext.Current.TestOutputHelper?.WriteLine($"max |ours - torch| after 20 steps = {worst:E2}");
        Assert.True(worst <= 1e-6, $"max deviation {worst}");
    }

    [Fact]
    public void First_step_equals_hand_computation()
    {
        using var p = new TorchSharp.Modules.Parameter(tensor(new float[] { 1.0f, -2.0f, 0.5f, 3.0f }).reshape(2, 2));
        using var opt = new AdamWOptimizer([("w", p)], new AdamWOptions { LearningRate = 0.1, WeightDecay = 0.5, Eps = 1e-8 });
        double[] g = [0.2, -0.4, 1e-3, 0.0];
        double[] p0 = [1.0, -2.0, 0.5, 3.0];
        p.grad = tensor(g.Select(v => (float)v).ToArray()).reshape(2, 2);
        opt.Step();
        // t = 1: m̂ = g, v̂ = g², so p1 = p0 (1 - lr wd) - lr g / (|g| + eps).
        var got = p.detach().reshape(-1).data<float>().ToArray();
        for (int i = 0; i < 4; i++)
        {
            double expected = p0[i] * (1 - 0.1 * 0.5) - 0.1 * g[i] / (Math.Abs(g[i]) + 1e-8);
            Assert.Equal(expected, got[i], 1e-6);
        }
        Assert.Equal(1, opt.StepCount);
        var state = opt.StateDict();
        Assert.Equal(0.1 * 0.2, state["w.exp_avg"].reshape(-1)[0].item<float>(), 1e-7);
        Assert.Equal(0.001 * 0.04, state["w.exp_avg_sq"].reshape(-1)[0].item<float>(), 1e-9);
        Assert.Equal(1L, state["step"].item<long>());
        foreach (var t in state.Values) t.Dispose();
    }

    [Fact]
    public void Default_rule_skips_decay_for_bias_norm_and_1d()
    {
        using var problem = new TrainingProblem();
        using var opt = new AdamWOptimizer(problem.Named(), new AdamWOptions { WeightDecay = 0.1 });
        var decay = opt.Groups.Single(g => g.Name == "decay");
        var noDecay = opt.Groups.Single(g => g.Name == "no_decay");
        Assert.Equal(["fc1.weight", "fc2.weight"], decay.Parameters.Select(p => p.Name));
        Assert.Equal(["fc1.bias", "norm.weight"], noDecay.Parameters.Select(p => p.Name));
        Assert.Equal(0.1, decay.WeightDecay);
        Assert.Equal(0.0, noDecay.WeightDecay);
        Assert.True(WeightDecayRules.Default("x.scale", ones(3)) is false, "1-D tensors do not decay");

        // A caller's rule replaces the default.
        using var custom = new AdamWOptimizer(problem.Named(), new AdamWOptions { WeightDecay = 0.1 }, (name, _) => name == "fc1.bias");
        Assert.Equal(["fc1.bias"], custom.Groups.Single(g => g.Name == "decay").Parameters.Select(p => p.Name));
    }

    [Fact]
    public void No_decay_group_is_not_decayed()
    {
        using var p = new TorchSharp.Modules.Parameter(ones(4));
        using var opt = new AdamWOptimizer([("layer.bias", p)], new AdamWOptions { LearningRate = 0.1, WeightDecay = 1.0 });
        p.grad = zeros(4);
        opt.Step();
        Assert.True(TrainingProblem.Same(p, ones(4)), "a zero gradient and no decay leave the bias unchanged");
    }

    [Fact]
    public void State_dict_is_keyed_by_parameter_name_and_state_bytes_count_fp32_moments()
    {
        using var problem = new TrainingProblem();
        using var opt = new AdamWOptimizer(problem.Named());
        var state = opt.StateDict();
        Assert.Equal(
            new[] { "step", "fc1.weight.exp_avg", "fc1.weight.exp_avg_sq", "fc1.bias.exp_avg", "fc1.bias.exp_avg_sq",
                    "norm.weight.exp_avg", "norm.weight.exp_avg_sq", "fc2.weight.exp_avg", "fc2.weight.exp_avg_sq" }.Order(),
            state.Keys.Order());
        foreach (var t in state.Values) t.Dispose();
        long elements = problem.Params.Sum(p => p.numel());
        Assert.Equal(elements * 2 * 4, opt.StateBytes);
    }

    [Fact]
    public void Duplicate_names_and_empty_parameter_lists_are_rejected()
    {
        using var p = new TorchSharp.Modules.Parameter(ones(4));
        Assert.Throws<ConfigurationException>(() => new AdamWOptimizer([("a", p), ("a", p)]));
        Assert.Throws<ConfigurationException>(() => new AdamWOptimizer([]));
    }
}
