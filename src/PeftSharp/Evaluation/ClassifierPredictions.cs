using PeftSharp.Models.Llama;
using PeftSharp.Training;
using PeftSharp.Training.Batches;
using static TorchSharp.torch;

namespace PeftSharp.Evaluation;

/// <summary>A classifier's outputs over a batch source: predicted ids, probabilities, gold ids, and the summed loss.</summary>
public sealed record ClassifierPredictions(IReadOnlyList<int> Predicted, IReadOnlyList<float[]> Probabilities, IReadOnlyList<int> Gold, double LossSum)
{
    /// <summary>Runs the model without gradients over every batch of <paramref name="source"/> (epoch 0, its order).</summary>
    public static ClassifierPredictions Run(LlamaForSequenceClassification model, IBatchSource source)
    {
        var predicted = new List<int>();
        var probabilities = new List<float[]>();
        var gold = new List<int>();
        double loss = 0;
        using (no_grad())
            foreach (var b in DeviceBatchSource.For(source, model).Epoch(0))
            {
                using var scope = NewDisposeScope();
                using var _ = b;
                var logits = model.Forward(b.InputIds, b.AttentionMask).to(ScalarType.Float32, CPU);
                var probs = nn.functional.softmax(logits, -1);
                predicted.AddRange(logits.argmax(-1).data<long>().Select(v => (int)v));
                var flat = probs.data<float>().ToArray();
                int k = (int)probs.shape[1];
                for (int r = 0; r < probs.shape[0]; r++) probabilities.Add(flat.AsSpan(r * k, k).ToArray());
                var goldIds = b.Labels.cpu();
                var labels = goldIds.data<long>().Select(v => (int)v).ToArray();
                gold.AddRange(labels);
                if (labels.All(l => l >= 0))
                    loss += nn.functional.cross_entropy(logits, goldIds, reduction: nn.Reduction.Sum).item<float>();
            }
        return new ClassifierPredictions(predicted, probabilities, gold, loss);
    }

    /// <summary>
    /// Whether every example has a gold label (none is the -1 "unlabelled" marker), so <see cref="Metrics"/> can be
    /// computed.
    /// </summary>
    public bool Labelled => Gold.Count > 0 && Gold.All(g => g >= 0);

    /// <summary>Accuracy, per-class scores and the confusion matrix of the predictions.</summary>
    /// <param name="labels">One name per class id, as in the model's id2label.</param>
    /// <exception cref="ConfigurationException">The data is not <see cref="Labelled"/>, or an id falls outside
    /// <paramref name="labels"/>.</exception>
    public ClassificationMetrics Metrics(IReadOnlyList<string> labels) =>
        Labelled ? ClassificationMetrics.Compute(Gold, Predicted, labels)
        : throw new ConfigurationException("the data has no labels to score against: give a file with a label column (see --label-field)");
}
