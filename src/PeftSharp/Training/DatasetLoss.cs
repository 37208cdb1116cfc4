using PeftSharp.Models.Llama;
using static TorchSharp.torch;

namespace PeftSharp.Training;

/// <summary>Target-weighted mean loss of a model over every batch of a source (epoch 0), and its perplexity.</summary>
public static class DatasetLoss
{
    /// <summary>Next-token loss of a causal LM.</summary>
    public static (double Loss, double Perplexity, long PredictedTokens) Compute(LlamaForCausalLM model, IBatchSource source) =>
        Compute(Batches.DeviceBatchSource.For(source, model), b => CausalLmLoss.Compute(
            model.Forward(b.InputIds, b.SequenceIds is null ? b.AttentionMask : null, positionIds: b.PositionIds, sequenceIds: b.SequenceIds), b.Labels));

    /// <summary>The target-weighted mean of any per-batch loss over <paramref name="source"/>, and exp of it.</summary>
    /// <param name="source">The batches (epoch 0 is used).</param>
    /// <param name="batchLoss">A batch's summed loss and the number of targets it sums over (run without gradients).</param>
    public static (double Loss, double Perplexity, long PredictedTokens) Compute(IBatchSource source, Func<TrainingBatch, (Tensor Sum, long Targets)> batchLoss)
    {
        double sum = 0;
        long count = 0;
        using (no_grad())
            foreach (var b in source.Epoch(0))
            {
                using var scope = NewDisposeScope();
                using var _ = b;
                var (s, n) = batchLoss(b);
                sum += s.item<float>();
                count += n;
            }
        if (count == 0) throw new ConfigurationException("the evaluation data has no predicted tokens (every label is masked)");
        double loss = sum / count;
        return (loss, Math.Exp(loss), count);
    }
}
