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
    /// <summary>The state-dict key of the step counter, "step" (an int64 scalar).</summary>
    public const string StepKey = "step";
    double learningRate;
    bool disposed;

    /// <summary>Validates the options and splits the parameters into decay / no-decay groups.</summary>
    /// <param name="parameters">Trainable parameters with unique names.</param>
    /// <param name="options">Hyper-parameters; null: the defaults.</param>
    /// <param name="weightDecayRule">Which parameters decay; null: <see cref="WeightDecayRules.Default"/>.</param>
    /// <exception cref="ConfigurationException">The options are invalid, or the parameters are empty, repeated or not floating point.</exception>
    protected AdamWOptimizerBase(IEnumerable<(string Name, Parameter Param)> parameters, AdamWOptions? options,
        WeightDecayRule? weightDecayRule)
    {
        Options = options ?? new AdamWOptions();
        Options.Validate();
        Groups = ParameterGroup.Split(parameters, Options.WeightDecay, weightDecayRule);
        learningRate = Options.LearningRate;
    }

    /// <summary>
    /// The hyper-parameters; the learning rate here is the initial one (<see cref="LearningRate"/> is the current one).
    /// </summary>
    public AdamWOptions Options { get; }
    /// <inheritdoc/>
    public abstract string TypeName { get; }
    /// <inheritdoc/>
    public IReadOnlyList<ParameterGroup> Groups { get; }
    /// <inheritdoc/>
    public long StepCount { get; private set; }

    /// <inheritdoc/>
    /// <exception cref="ArgumentOutOfRangeException">Set to a negative, infinite or NaN value.</exception>
    public double LearningRate
    {
        get => learningRate;
        set => learningRate = value >= 0 && !double.IsInfinity(value)
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, "the learning rate must be a finite number >= 0");
    }

    /// <inheritdoc/>
    public virtual IReadOnlyDictionary<string, string> HyperParameters => Options.ToStrings();

    /// <inheritdoc/>
    public long StateBytes => StateTensors().Sum(s => s.Tensor.numel() * s.Tensor.ElementSize);

    /// <summary>Every parameter of every group, in stepping order.</summary>
    public IEnumerable<NamedParameter> Parameters => Groups.SelectMany(g => g.Parameters);

    /// <inheritdoc/>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
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

    /// <summary>Frees the variant's state tensors; called once, by <see cref="Dispose"/>.</summary>
    protected abstract void DisposeState();

    /// <inheritdoc/>
    public void ZeroGrad()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        foreach (var p in Parameters) p.Param.grad = null;
    }

    /// <inheritdoc/>
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

    /// <inheritdoc/>
    /// <exception cref="PeftSharpException">The "step" entry is missing or malformed, a key is missing or extra, or a shape or dtype differs; <paramref name="source"/> names the file in the message.</exception>
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

    /// <summary>Frees the optimizer state; later calls do nothing, and the optimizer can no longer step.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        DisposeState();
        GC.SuppressFinalize(this);
    }
}
