namespace PeftSharp.Data;

/// <summary>One row of a batch before it becomes tensors; padding is added when the batch is assembled.</summary>
public sealed class Row
{
    public List<int> InputIds { get; } = [];
    public List<int> Labels { get; } = [];
    public List<int> PositionIds { get; } = [];
    public List<int> SequenceIds { get; } = [];
    public int Examples { get; private set; }
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
