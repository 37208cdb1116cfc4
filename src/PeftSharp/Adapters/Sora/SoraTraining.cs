using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Adapters.Sora;

/// <summary>
/// SoRA's training rule: after every optimizer step the gates take the proximal step of the L1 penalty
/// λ·Σ|g| (the paper's proximal gradient update), the soft threshold g ← sign(g)·max(|g| − λ·lr, 0), so entries reach
/// exactly zero and stay there unless the gradient pushes them out again. λ is sparse_lambda, optionally ramped
/// linearly from 0 over lambda_warmup_steps. Gates get no weight decay (the L1 term is their regulariser).
/// </summary>
public sealed class SoraTraining : IAdapterTraining
{
    readonly SoraConfig config;
    readonly IReadOnlyList<SoraLinear> layers;
    int totalSteps = 1;
    double lastLambda;

    /// <summary>Rules for the given layers of one adapter.</summary>
    public SoraTraining(SoraConfig config, IEnumerable<SoraLinear> layers)
    {
        this.config = config;
        this.layers = layers.ToList();
        lastLambda = config.SparseLambda;
    }

    /// <summary>Records the run's length, over which a linear λ ramp without lambda_warmup_steps extends.</summary>
    public void Begin(int totalSteps) => this.totalSteps = Math.Max(1, totalSteps);

    /// <summary>λ at optimizer step <paramref name="step"/> (0-based).</summary>
    public double LambdaAt(int step)
    {
        if (config.LambdaSchedule != "linear") return config.SparseLambda;
        int warmup = config.LambdaWarmupSteps > 0 ? config.LambdaWarmupSteps : totalSteps;
        return config.SparseLambda * Math.Min(1.0, (step + 1.0) / warmup);
    }

    /// <summary>Soft-thresholds every gate by λ(step) x <paramref name="learningRate"/>.</summary>
    public void AfterOptimizerStep(int step, double learningRate)
    {
        lastLambda = LambdaAt(step);
        Threshold(lastLambda * learningRate);
    }

    /// <summary>The soft threshold with step <paramref name="threshold"/> on every gate; 0 changes nothing.</summary>
    public void Threshold(double threshold)
    {
        if (threshold <= 0) return;
        using var _ = no_grad();
        foreach (var l in layers)
        {
            using var scope = NewDisposeScope();
            var g = l.Gate;
            g.copy_(g.sign() * (g.abs() - threshold).clamp_min(0));
        }
    }

    /// <summary>True for the gates (sora_gate parameters): their L1 proximal step replaces weight decay.</summary>
    public bool ExcludeFromWeightDecay(string parameterName) => parameterName.Split('.').Contains("sora_gate");

    /// <summary>sora_l1: λ·Σ|g| (the penalty the prox step minimises); sora_rank: gates not zero, over all layers.</summary>
    public IReadOnlyDictionary<string, double> Metrics()
    {
        using var _ = no_grad();
        double l1 = 0;
        long live = 0;
        foreach (var l in layers)
        {
            using var scope = NewDisposeScope();
            l1 += l.Gate.abs().sum().ToDouble();
            live += l.Gate.count_nonzero().item<long>();
        }
        return new Dictionary<string, double> { ["sora_l1"] = lastLambda * l1, ["sora_rank"] = live, ["sora_lambda"] = lastLambda };
    }
}
