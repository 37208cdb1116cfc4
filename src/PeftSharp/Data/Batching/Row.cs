namespace PeftSharp.Data;

/// <summary>One row of a batch before it becomes tensors; padding is added when the batch is assembled.</summary>
public sealed class Row
{
    /// <summary>Token ids of the row, example after example (no padding).</summary>
    public List<int> InputIds { get; } = [];
    /// <summary>
    /// Target ids, one per token (unshifted: the model shifts them); <see cref="TokenizedExample.IgnoreIndex"/> (-100)
    /// on tokens that are not trained.
    /// </summary>
    public List<int> Labels { get; } = [];
    /// <summary>Rotary positions: 0, 1, ... restarting at 0 at the start of each packed example.</summary>
    public List<int> PositionIds { get; } = [];
    /// <summary>
    /// The index within the row of the example each token belongs to (0, 1, ...), so attention can be made
    /// block-diagonal.
    /// </summary>
    public List<int> SequenceIds { get; } = [];
    /// <summary>Number of examples appended so far.</summary>
    public int Examples { get; private set; }
    /// <summary>Row length in tokens (before padding).</summary>
    public int Length => InputIds.Count;

    /// <summary>
    /// Appends an example. For every example after the first its first label is set to -100: the model shifts
    /// labels inside a row, so that label is the target of the previous example's last token and must not
    /// teach the model to predict across an example boundary.
    /// </summary>
    public void Add(TokenizedExample e, int maxTokens)
    {
        int n = Math.Min(e.Length, maxTokens);
        for (int i = 0; i < n; i++)
        {
            InputIds.Add(e.InputIds[i]);
            Labels.Add(i == 0 && Examples > 0 ? TokenizedExample.IgnoreIndex : e.Labels[i]);
            PositionIds.Add(i);
            SequenceIds.Add(Examples);
        }
        Examples++;
    }
}

/// <summary>A row as planned: which examples it holds, in order, and its length in tokens (before padding).</summary>
public sealed record RowPlan(IReadOnlyList<int> Indices, int Length);
