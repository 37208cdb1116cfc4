using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Training.Optimization;

/// <summary>
/// AdamW whose fp32 moments live in host memory (pinned when CUDA is available, so copies can overlap) and are
/// brought to the parameters' device one parameter group at a time: copy in, update with the same arithmetic as
/// <see cref="AdamWOptimizer"/>, copy back. Device memory then holds at most one group's moments. On CPU the
/// round trip is an explicit copy, so the transfer path runs and the result is bitwise AdamW's.
/// </summary>
/// <remarks>
/// This is "offloaded" rather than bnb's unified-memory paging (TorchSharp exposes no managed allocations): the
/// moments always cross the bus, which costs bandwidth proportional to the adapter size, small for LoRA.
/// State keys as <see cref="AdamWOptimizer"/>; the state dict is the host copies.
/// </remarks>
public sealed class PagedAdamWOptimizer : AdamWOptimizerBase
{
    readonly Dictionary<string, (Tensor ExpAvg, Tensor ExpAvgSq)> host = new(StringComparer.Ordinal);

    /// <summary>
    /// An AdamW with host-resident fp32 moments over the named parameters (the trainer's optimizer "paged_adamw"; like
    /// bnb.optim.PagedAdamW). Moments start at zero.
    /// </summary>
    /// <param name="parameters">Trainable parameters with unique names (their state keys).</param>
    /// <param name="options">Hyper-parameters; null: <see cref="AdamWOptions"/>' defaults.</param>
    /// <param name="weightDecayRule">Which parameters decay; null: <see cref="WeightDecayRules.Default"/>.</param>
    /// <exception cref="ConfigurationException">The options are invalid, or the parameters are empty, repeated or not floating point.</exception>
    public PagedAdamWOptimizer(IEnumerable<(string Name, Parameter Param)> parameters, AdamWOptions? options = null,
        WeightDecayRule? weightDecayRule = null)
        : base(parameters, options, weightDecayRule)
    {
        Pinned = cuda.is_available();
        foreach (var p in Parameters)
            host[p.Name] = (HostZeros(p.Param, Pinned), HostZeros(p.Param, Pinned));
    }

    /// <summary>"PagedAdamW".</summary>
    public override string TypeName => "PagedAdamW";

    /// <summary>Whether the host moments are in page-locked memory.</summary>
    public bool Pinned { get; }

    static Tensor HostZeros(Parameter p, bool pin)
    {
        using var scope = NewDisposeScope();
        var t = zeros(p.shape, ScalarType.Float32, CPU);
        if (pin) t = t.pin_memory();
        return t.DetachFromDisposeScope();
    }

    /// <inheritdoc/>
    protected override void StepGroup(ParameterGroup group, long step, double lr)
    {
        // One scope per group: the device copies of this group's moments are freed before the next group's arrive.
        using var scope = NewDisposeScope();
        var work = new List<(NamedParameter P, Tensor Grad, Tensor M, Tensor V)>();
        foreach (var p in group.Parameters)
        {
            var grad = p.Param.grad;
            if (grad is null) continue;
            var (m, v) = host[p.Name];
            work.Add((p, grad, ToDevice(m, p.Param.device), ToDevice(v, p.Param.device)));
        }
        foreach (var (p, grad, m, v) in work)
            AdamWMath.Update(p.Param, grad, m, v, step, lr, group.WeightDecay, Options);
        foreach (var (p, _, m, v) in work)
        {
            var (hm, hv) = host[p.Name];
            hm.copy_(m);
            hv.copy_(v);
        }
    }

    /// <summary>A working copy on <paramref name="device"/>; never an alias of the host tensor, even on CPU.</summary>
    Tensor ToDevice(Tensor hostTensor, Device device) =>
        device.type == DeviceType.CPU ? hostTensor.clone() : hostTensor.to(device, non_blocking: Pinned);

    /// <inheritdoc/>
    protected override IEnumerable<(string Key, Tensor Tensor)> StateTensors()
    {
        foreach (var p in Parameters)
        {
            var (m, v) = host[p.Name];
            yield return (p.Name + ".exp_avg", m);
            yield return (p.Name + ".exp_avg_sq", v);
        }
    }

    /// <inheritdoc/>
    protected override void DisposeState()
    {
        foreach (var (m, v) in host.Values) { m.Dispose(); v.Dispose(); }
        host.Clear();
    }
}
