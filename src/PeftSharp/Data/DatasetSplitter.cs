namespace PeftSharp.Data;

/// <summary>
/// Holds out a seeded random fraction of a dataset for evaluation (axolotl val_set_size, the dataset's eval_split).
/// </summary>
public static class DatasetSplitter
{
    /// <summary>A seeded random split; with a ratio above 0 and at least 2 examples, eval gets at least one.</summary>
    public static (IReadOnlyList<T> Train, IReadOnlyList<T> Eval) Split<T>(IReadOnlyList<T> items, double evalRatio, int seed)
    {
        if (evalRatio is < 0 or >= 1) throw new ConfigurationException($"eval_split must be in [0, 1), got {evalRatio}");
        if (evalRatio == 0 || items.Count < 2) return (items, []);
        int nEval = Math.Clamp((int)Math.Round(items.Count * evalRatio), 1, items.Count - 1);
        var order = Enumerable.Range(0, items.Count).ToArray();
        new Random(seed).Shuffle(order);
        var evalSet = order.Take(nEval).Order().ToArray();
        var isEval = new bool[items.Count];
        foreach (int i in evalSet) isEval[i] = true;
        // Both halves keep file order (the batcher shuffles training per epoch); views, so a disk-backed list is not read.
        var trainIdx = Enumerable.Range(0, items.Count).Where(i => !isEval[i]).ToArray();
        return (new IndexedView<T>(items, trainIdx), new IndexedView<T>(items, evalSet));
    }
}
