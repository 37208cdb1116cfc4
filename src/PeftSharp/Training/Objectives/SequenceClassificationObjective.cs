using System.Text.Json;
using PeftSharp.Evaluation;
using PeftSharp.IO.SafeTensors;
using PeftSharp.Models;
using PeftSharp.Models.Llama;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Training.Objectives;

/// <summary>
/// Sequence classification (HF's ...ForSequenceClassification): cross-entropy of the pooled logits against each text's
/// label, optionally weighted per class; evaluation reports accuracy and macro precision/recall/F1. A weighted loss is
/// summed as w[y]·CE and divided by the example count, so accumulation still weighs every example the same.
/// </summary>
public sealed class SequenceClassificationObjective : ITrainingObjective
{
    readonly LlamaForSequenceClassification model;
    readonly Tensor? classWeights;

    /// <summary>A classification objective for <paramref name="model"/>.</summary>
    /// <param name="model">The classifier (a Llama-family decoder with a score head over the last real token).</param>
    /// <param name="classWeights">One loss weight per label in label-id order (see <see cref="Data.Classification.ClassWeights"/>), or null for an unweighted loss.</param>
    /// <exception cref="ConfigurationException">The weights do not number one per label.</exception>
    public SequenceClassificationObjective(LlamaForSequenceClassification model, float[]? classWeights = null)
    {
        if (classWeights is not null && classWeights.Length != model.Labels.Count)
            throw new ConfigurationException($"{classWeights.Length} class weights for {model.Labels.Count} labels: give one weight per label");
        this.model = model;
        // Made once: the loss of every batch uses it. The logits are fp32 (fp64 for an fp64 model).
        this.classWeights = classWeights is null ? null
            : tensor(classWeights, dtype: model.score.weight.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32, device: model.score.weight.device);
    }

    /// <inheritdoc/>
    public nn.Module Model => model;
    /// <inheritdoc/>
    public bool GradientCheckpointing { set => model.model.GradientCheckpointing = value; }

    /// <summary>Summed (class-weighted) cross-entropy of the logits [B, labels] against the label ids [B].</summary>
    public Tensor Loss(TrainingBatch b)
    {
        var logits = model.Forward(b.InputIds, b.AttentionMask);
        return nn.functional.cross_entropy(logits, b.Labels, weight: classWeights, reduction: nn.Reduction.Sum);
    }

    /// <summary>The batch's example count: one target per text.</summary>
    public long Targets(TrainingBatch b) => b.Labels.shape[0];

    /// <inheritdoc/>
    public long Tokens(TrainingBatch b) => b.AttentionMask is { } m ? m.sum().item<long>() : b.InputIds.numel();

    /// <summary>Mean loss per example, with "accuracy" and "macro_f1" as metrics.</summary>
    public EvalResult Evaluate(IBatchSource source)
    {
        var p = ClassifierPredictions.Run(model, source);
        var m = p.Metrics(model.Labels);
        return new EvalResult(p.LossSum / Math.Max(1, p.Gold.Count), p.Gold.Count, new Dictionary<string, double>
        {
            ["accuracy"] = m.Accuracy,
            ["macro_f1"] = m.Macro.F1,
        });
    }

    /// <inheritdoc/>
    public void SaveModel(string folder, IReadOnlyDictionary<string, string>? extraFiles, bool overwrite) =>
        ModelFolderWriter.Save(model, new HashSet<string>(), ClassifierConfig.ToJson(model), null, folder, extraFiles, overwrite: overwrite);

    /// <inheritdoc/>
    public void LoadModel(string folder)
    {
        using var src = SafeTensorsCheckpoint.Open(folder);
        WeightLoader.Load(model, src);
    }

    /// <summary>config.json beside the adapter: the base config with the label names, so eval/predict know them.</summary>
    public IReadOnlyDictionary<string, string> AdapterFolderFiles => new Dictionary<string, string>
    {
        ["config.json"] = ClassifierConfig.ToJson(model).ToJsonString(new JsonSerializerOptions { WriteIndented = true }),
    };
}
