using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Training.Optimization;

/// <summary>
/// What the three AdamW variants share: named parameter groups, the step counter, the learning rate, zeroing
/// gradients and the state dict. A variant says only where its moments live (<see cref="StepGroup"/>) and which
/// tensors make up its state (<see cref="StateTensors"/>).
/// </summary>
/// <remarks>
/// The step counter is global: a parameter without a gradient is skipped (its moments unchanged) but the counter
/// still advances, so its next bias correction differs from torch's per-parameter count. LoRA training gives every
/// trainable parameter a gradient each step, where the two agree.
/// </remarks>
public abstract class AdamWOptimizerBase : ITrainingOptimizer
{
    public const string StepKey = "step";
    double learningRate;
    bool disposed;

    protected AdamWOptimizerBase(IEnumerable<(string Name, Parameter Param)> parameters, AdamWOptions? options,
        WeightDecayRule? weightDecayRule)
    {
        Options = options ?? new AdamWOptions();
        Options.Validate();
        Groups = ParameterGroup.Split(parameters, Options.WeightDecay, weightDecayRule);
        learningRate = Options.LearningRate;
    }

    public AdamWOptions Options { get; }
    public abstract string TypeName { get; }
    public IReadOnlyList<ParameterGroup> Groups { get; }
    public long StepCount { get; private set; }

    public double LearningRate
    {
        get => learningRate;
        set => learningRate = value >= 0 && !double.IsInfinity(value)
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, "the learning rate must be a finite number >= 0");
    }

    public virtual IReadOnlyDictionary<string, string> HyperParameters => Options.ToStrings();

    public long StateBytes => StateTensors().Sum(s => s.Tensor.numel() * s.Tensor.ElementSize);

    public IEnumerable<NamedParameter> Parameters => Groups.SelectMany(g => g.Parameters);

    public void Step()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        StepCount++;
        foreach (var group in Groups) StepGroup(group, StepCount, learningRate);
    }

    /// <summary>Updates every parameter of <paramref name="group"/> that has a gradient. Runs under no_grad in a dispose scope.</summary>
    protected abstract void StepGroup(ParameterGroup group, long step, double lr);

    /// <summary>The live state tensors, keyed as in the state dict (without "step"), in a stable order.</summary>
    protected abstract IEnumerable<(string Key, Tensor Tensor)> StateTensors();

    protected abstract void DisposeState();

    public void ZeroGrad()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        foreach (var p in Parameters) p.Param.grad = null;
    }

    public IReadOnlyDictionary<string, Tensor> StateDict()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            result[StepKey] = tensor(StepCount, ScalarType.Int64).DetachFromDisposeScope();
            foreach (var (key, t) in StateTensors())
            {
                using var scope = NewDisposeScope();
                result[key] = t.detach().cpu().clone().DetachFromDisposeScope();
            }
            return result;
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
    }

    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state, string source = "state dict")
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ArgumentNullException.ThrowIfNull(state);
        var live = StateTensors().ToList();
        StateDictCheck.Validate(state, live, source, TypeName);
        var step = state[StepKey];
        using var noGrad = no_grad();
        foreach (var (key, t) in live)
        {
            using var scope = NewDisposeScope();
            t.copy_(state[key]);
        }
        StepCount = step.item<long>();
    }

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        DisposeState();
        GC.SuppressFinalize(this);
    }
}
