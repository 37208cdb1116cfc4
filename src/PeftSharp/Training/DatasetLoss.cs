using PeftSharp.Models.Llama;
using static TorchSharp.torch;

namespace PeftSharp.Training;

/// <summary>Token-weighted mean next-token loss of a model over every batch of a source (epoch 0), and its perplexity.</summary>
public static class DatasetLoss
{
    public static (double Loss, double Perplexity, long PredictedTokens) Compute(LlamaForCausalLM model, IBatchSource source)
    {
        double sum = 0;
        long count = 0;
        using (no_grad())
            foreach (var b in source.Epoch(0))
            {
                using var scope = NewDisposeScope();
                using var _ = b;
                var logits = model.Forward(b.InputIds, b.SequenceIds is null ? b.AttentionMask : null, positionIds: b.PositionIds, sequenceIds: b.SequenceIds);
                var (s, n) = CausalLmLoss.Compute(logits, b.Labels);
                sum += s.item<float>();
                count += n;
            }
        if (count == 0) throw new ConfigurationException("the evaluation data has no predicted tokens (every label is masked)");
        double loss = sum / count;
        return (loss, Math.Exp(loss), count);
    }
}
