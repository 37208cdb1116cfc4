using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Training.Objectives;

/// <summary>An evaluation pass: mean loss per target, and the task's own metrics (perplexity, accuracy, ...).</summary>
public sealed record EvalResult(double Loss, long Targets, IReadOnlyDictionary<string, double> Metrics)
{
    /// <summary>
    /// The "perplexity" metric when the objective reports one (language modelling, transcription); null otherwise.
    /// </summary>
    public double? Perplexity => Metrics.TryGetValue("perplexity", out var p) ? p : null;
}

/// <summary>
/// What the training loop trains: a model and the loss it minimises. The loop owns batching, accumulation, the
/// optimizer, checkpoints and logging; an objective says how a batch becomes a summed loss over its targets (tokens
/// for language modelling and transcription, examples for classification), how the model is evaluated, and how a
/// fully fine-tuned model is saved and restored.
/// </summary>
public interface ITrainingObjective
{
    /// <summary>
    /// The module being trained; the loop puts it in train/eval mode and, without an adapter, trains all its
    /// parameters.
    /// </summary>
    nn.Module Model { get; }

    /// <summary>Recompute activations in backward instead of storing them (when the model supports it).</summary>
    bool GradientCheckpointing { set; }

    /// <summary>The summed loss over the batch's targets, in fp32; the loop divides by the accumulated group's targets.</summary>
    Tensor Loss(TrainingBatch batch);

    /// <summary>How many targets the batch's loss sums over (every target weighs the same across an accumulation group).</summary>
    long Targets(TrainingBatch batch);

    /// <summary>Input tokens (or frames) processed, for throughput.</summary>
    long Tokens(TrainingBatch batch);

    /// <summary>Loss and metrics over every batch of a source (epoch 0), without gradients, in eval mode.</summary>
    EvalResult Evaluate(IBatchSource source);

    /// <summary>Writes the whole model as a Hugging Face folder (full fine-tuning).</summary>
    void SaveModel(string folder, IReadOnlyDictionary<string, string>? extraFiles, bool overwrite);

    /// <summary>Restores a folder written by <see cref="SaveModel"/> into the model (resume of full fine-tuning).</summary>
    void LoadModel(string folder);

    /// <summary>Files an adapter folder needs beside the adapter (e.g. a classifier's label names), name -> contents.</summary>
    IReadOnlyDictionary<string, string> AdapterFolderFiles { get; }
}
