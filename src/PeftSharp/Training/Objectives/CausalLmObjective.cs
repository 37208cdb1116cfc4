using PeftSharp.IO.SafeTensors;
using PeftSharp.Models;
using PeftSharp.Models.Llama;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Training.Objectives;

/// <summary>Next-token prediction on a decoder-only LM (SFT, continued pre-training): the loss over labelled tokens.</summary>
public sealed class CausalLmObjective(LlamaForCausalLM model, bool chunkedLoss = true) : ITrainingObjective
{
    /// <inheritdoc/>
    public nn.Module Model => model;
    /// <summary>The language model, typed (for callers that need its head or decoder).</summary>
    public LlamaForCausalLM CausalLm => model;
    /// <inheritdoc/>
    public bool GradientCheckpointing { set => model.model.GradientCheckpointing = value; }

    /// <summary>
    /// From hidden states in chunks when the head is a plain dense layer (no adapter, not quantized, no bias): the
    /// full fp32 logits are never materialised. Otherwise from the full logits.
    /// </summary>
    public Tensor Loss(TrainingBatch b)
    {
        var mask = b.SequenceIds is null ? b.AttentionMask : null;
        var head = model.lm_head;
        if (chunkedLoss && head.Adapters.All.Count == 0 && head.Quantized is null && head.bias is null)
        {
            var hidden = model.model.Forward(b.InputIds, mask, positionIds: b.PositionIds, sequenceIds: b.SequenceIds);
            return ChunkedCausalLmLoss.Compute(hidden, head.weight, b.Labels).Sum;
        }
        var logits = model.Forward(b.InputIds, mask, positionIds: b.PositionIds, sequenceIds: b.SequenceIds);
        return CausalLmLoss.Compute(logits, b.Labels).Sum;
    }

    /// <summary>
    /// Labels that are predicted: every label except the first of each row (nothing predicts it) that is not -100.
    /// </summary>
    public long Targets(TrainingBatch b) => b.Labels.narrow(1, 1, b.Labels.shape[1] - 1).ne(CausalLmLoss.IgnoreIndex).sum().item<long>();

    /// <summary>Non-padding input tokens (the attention mask's sum; every token when packed).</summary>
    public long Tokens(TrainingBatch b) => b.AttentionMask is { } m ? m.sum().item<long>() : b.InputIds.numel();

    /// <summary>
    /// Token-weighted mean next-token loss over the source, with "perplexity" = exp(loss) as the metric.
    /// </summary>
    public EvalResult Evaluate(IBatchSource source)
    {
        var (loss, ppl, count) = DatasetLoss.Compute(model, source);
        return new EvalResult(loss, count, new Dictionary<string, double> { ["perplexity"] = ppl });
    }

    /// <inheritdoc/>
    public void SaveModel(string folder, IReadOnlyDictionary<string, string>? extraFiles, bool overwrite) =>
        ModelFolderWriter.Save(model, folder, extraFiles, overwrite: overwrite);

    /// <inheritdoc/>
    public void LoadModel(string folder)
    {
        using var src = SafeTensorsCheckpoint.Open(folder);
        WeightLoader.Load(model, src, model.TiedKeys);
    }

    /// <summary>None: a causal-LM adapter folder needs only the adapter files.</summary>
    public IReadOnlyDictionary<string, string> AdapterFolderFiles { get; } = new Dictionary<string, string>();
}
