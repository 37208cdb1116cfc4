namespace PeftSharp.Evaluation;

/// <summary>Precision, recall and F1 of one class (or one average), with the number of gold examples it covers.</summary>
public sealed record ClassScores(string Label, double Precision, double Recall, double F1, long Support);

/// <summary>
/// Single-label classification metrics from gold and predicted label ids: accuracy, per-class precision/recall/F1/support,
/// macro, micro and support-weighted averages, and the confusion matrix (rows = gold, columns = predicted).
/// A ratio whose denominator is zero (a class never predicted, or never gold) takes <c>zeroDivision</c>, 0 by default,
/// as scikit-learn's <c>zero_division="warn"</c> does in the value.
/// </summary>
public sealed partial class ClassificationMetrics
{
    /// <summary>
    /// Class names, indexed by label id; the order of rows and columns in <see cref="ConfusionMatrix"/> and <see
    /// cref="PerClass"/>.
    /// </summary>
    public IReadOnlyList<string> Labels { get; }
    /// <summary>Counts[gold, predicted].</summary>
    public long[,] ConfusionMatrix { get; }
    /// <summary>Number of examples scored (the sum of the confusion matrix).</summary>
    public long Total { get; }
    /// <summary>Fraction of examples whose predicted id equals the gold id, in [0, 1].</summary>
    public double Accuracy { get; }
    /// <summary>Precision, recall, F1 and support of each class, in <see cref="Labels"/> order.</summary>
    public IReadOnlyList<ClassScores> PerClass { get; }
    /// <summary>
    /// Unweighted mean of the per-class scores (every class counts the same, however rare), as sklearn's "macro avg";
    /// its support is the total.
    /// </summary>
    public ClassScores Macro { get; }
    /// <summary>Pooled over all examples; for single-label data micro precision = recall = F1 = accuracy.</summary>
    public ClassScores Micro { get; }
    /// <summary>Per-class scores averaged with weights = support.</summary>
    public ClassScores Weighted { get; }

    ClassificationMetrics(IReadOnlyList<string> labels, long[,] matrix, double zeroDivision)
    {
        Labels = labels;
        ConfusionMatrix = matrix;
        int n = labels.Count;
        long correct = 0;
        var perClass = new List<ClassScores>(n);
        for (int c = 0; c < n; c++)
        {
            long tp = matrix[c, c], predicted = 0, gold = 0;
            for (int k = 0; k < n; k++) { predicted += matrix[k, c]; gold += matrix[c, k]; }
            Total += gold;
            correct += tp;
            perClass.Add(Scores(labels[c], tp, predicted, gold, zeroDivision));
        }
        PerClass = perClass;
        Accuracy = (double)correct / Total;
        // Micro: every example is one TP or one FP+FN pair, so pooled predicted = pooled gold = Total.
        Micro = Scores("micro avg", correct, Total, Total, zeroDivision);
        Macro = new ClassScores("macro avg", perClass.Average(s => s.Precision), perClass.Average(s => s.Recall),
            perClass.Average(s => s.F1), Total);
        Weighted = new ClassScores("weighted avg", Weigh(s => s.Precision), Weigh(s => s.Recall), Weigh(s => s.F1), Total);

        double Weigh(Func<ClassScores, double> f) => perClass.Sum(s => f(s) * s.Support) / Total;
    }

    static ClassScores Scores(string label, long tp, long predicted, long gold, double zeroDivision)
    {
        double p = predicted == 0 ? zeroDivision : (double)tp / predicted;
        double r = gold == 0 ? zeroDivision : (double)tp / gold;
        // sklearn: F1 is zero_division only when precision and recall are both undefined (no TP, FP or FN);
        // when both are defined but zero it is 0.
        double f1 = predicted + gold == 0 ? zeroDivision : 2.0 * tp / (predicted + gold);
        return new ClassScores(label, p, r, f1, gold);
    }

    /// <summary>
    /// Scores single-label predictions against gold labels, as scikit-learn's classification_report and
    /// confusion_matrix.
    /// </summary>
    /// <exception cref="ConfigurationException">No label names or examples, lists of different lengths, an id outside
    /// the labels, or a zeroDivision other than 0 or 1.</exception>
    /// <param name="gold">gold label ids, each in [0, labelNames.Count)</param>
    /// <param name="predicted">predicted label ids, same length and range as gold</param>
    /// <param name="labelNames">one name per label id; the class count is its length</param>
    /// <param name="zeroDivision">the value of a ratio with a zero denominator (sklearn's zero_division): 0 or 1</param>
    public static ClassificationMetrics Compute(IReadOnlyList<int> gold, IReadOnlyList<int> predicted,
        IReadOnlyList<string> labelNames, double zeroDivision = 0)
    {
        if (labelNames.Count == 0)
            throw new ConfigurationException("classification metrics need at least one label name; pass one name per label id");
        if (gold.Count != predicted.Count)
            throw new ConfigurationException($"classification metrics got {gold.Count} gold labels but {predicted.Count} predictions; " +
                "pass one prediction per example");
        if (gold.Count == 0)
            throw new ConfigurationException("classification metrics got no examples; the evaluation set is empty");
        if (zeroDivision is not (0 or 1))
            throw new ConfigurationException($"zeroDivision must be 0 or 1, found {zeroDivision}");
        int n = labelNames.Count;
        var matrix = new long[n, n];
        for (int i = 0; i < gold.Count; i++)
        {
            Check(gold[i], i, "gold");
            Check(predicted[i], i, "predicted");
            matrix[gold[i], predicted[i]]++;
        }
        return new ClassificationMetrics(labelNames.ToArray(), matrix, zeroDivision);

        void Check(int id, int index, string which)
        {
            if (id < 0 || id >= n)
                throw new ConfigurationException($"{which} label id {id} at example {index} is outside [0, {n}); " +
                    $"the labels are {string.Join(", ", labelNames)}: add a name for it or fix the label mapping");
        }
    }
}
