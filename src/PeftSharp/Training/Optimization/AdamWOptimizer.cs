using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Training.Optimization;

/// <summary>
/// AdamW with fp32 moments next to each parameter: torch.optim.AdamW's update, bit for bit, with our own state dict.
/// State: "&lt;param&gt;.exp_avg" and "&lt;param&gt;.exp_avg_sq", fp32, the parameter's shape and device.
/// </summary>
public sealed class AdamWOptimizer : AdamWOptimizerBase
{
    readonly Dictionary<string, (Tensor ExpAvg, Tensor ExpAvgSq)> moments = new(StringComparer.Ordinal);

    /// <summary>
    /// An fp32 AdamW over the named parameters (the trainer's optimizer "adamw"; torch.optim.AdamW). Moments start at
    /// zero.
    /// </summary>
    /// <param name="parameters">Trainable parameters with unique names (their state keys).</param>
    /// <param name="options">Hyper-parameters; null: <see cref="AdamWOptions"/>' defaults.</param>
    /// <param name="weightDecayRule">Which parameters decay; null: <see cref="WeightDecayRules.Default"/>.</param>
    /// <exception cref="ConfigurationException">The options are invalid, or the parameters are empty, repeated or not floating point.</exception>
    public AdamWOptimizer(IEnumerable<(string Name, Parameter Param)> parameters, AdamWOptions? options = null,
        WeightDecayRule? weightDecayRule = null)
        : base(parameters, options, weightDecayRule)
    {
        foreach (var p in Parameters)
            moments[p.Name] = (Zeros(p.Param), Zeros(p.Param));
    }

    /// <summary>"AdamW".</summary>
    public override string TypeName => "AdamW";

    // fp32 whatever the parameter's dtype (DESIGN: optimizer state in fp32); eager so StateBytes is known up front.
    static Tensor Zeros(Parameter p) => zeros(p.shape, ScalarType.Float32, p.device).DetachFromDisposeScope();

    /// <inheritdoc/>
    protected override void StepGroup(ParameterGroup group, long step, double lr)
    {
        foreach (var p in group.Parameters)
        {
            var grad = p.Param.grad;
            if (grad is null) continue;
            var (m, v) = moments[p.Name];
            AdamWMath.Update(p.Param, grad, m, v, step, lr, group.WeightDecay, Options);
        }
    }

    /// <inheritdoc/>
    protected override IEnumerable<(string Key, Tensor Tensor)> StateTensors()
    {
        foreach (var p in Parameters)
        {
            var (m, v) = moments[p.Name];
            yield return (p.Name + ".exp_avg", m);
            yield return (p.Name + ".exp_avg_sq", v);
        }
    }

    /// <inheritdoc/>
    protected override void DisposeState()
    {
        foreach (var (m, v) in moments.Values) { m.Dispose(); v.Dispose(); }
        moments.Clear();
    }
}
