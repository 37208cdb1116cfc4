using static TorchSharp.torch;

namespace PeftSharp.Training.Optimization;

/// <summary>
/// What the trainer needs from an optimizer: a step over named parameters, a learning rate the schedule sets each
/// step, and a state dict keyed by parameter name ("&lt;param&gt;.exp_avg", ..., plus "step") that can be saved and
/// loaded so that a resumed run continues bit for bit.
/// </summary>
public interface ITrainingOptimizer : IDisposable
{
    /// <summary>Short type name written into checkpoints ("AdamW", "AdamW8bit", "PagedAdamW").</summary>
    string TypeName { get; }

    /// <summary>The current learning rate for all groups; the schedule sets it before each step.</summary>
    double LearningRate { get; set; }

    /// <summary>Optimizer steps taken so far.</summary>
    long StepCount { get; }

    /// <summary>Bytes held by optimizer state tensors (moments, quantization scales), not counting parameters.</summary>
    long StateBytes { get; }

    /// <summary>The parameter groups, in the order they are stepped.</summary>
    IReadOnlyList<ParameterGroup> Groups { get; }

    /// <summary>Hyper-parameters as invariant strings (for checkpoint metadata and logs).</summary>
    IReadOnlyDictionary<string, string> HyperParameters { get; }

    /// <summary>One update of every parameter that has a gradient; parameters without one are left alone.</summary>
    void Step();

    /// <summary>Drops every gradient (set to none, as torch's default), freeing its memory.</summary>
    void ZeroGrad();

    /// <summary>A snapshot (fresh CPU copies the caller owns and disposes) of the state, keyed by parameter name.</summary>
    IReadOnlyDictionary<string, Tensor> StateDict();

    /// <summary>Copies a state dict into this optimizer; keys, shapes and dtypes must match exactly.</summary>
    void LoadStateDict(IReadOnlyDictionary<string, Tensor> state, string source = "state dict");
}
