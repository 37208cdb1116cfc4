namespace PeftSharp.Evaluation;

/// <summary>
/// The outcome of aligning a hypothesis to a reference: hits, substitutions, deletions (reference tokens missing from the
/// hypothesis) and insertions (extra hypothesis tokens). <see cref="ReferenceLength"/> = H + S + D.
/// </summary>
public readonly record struct EditCounts(long Hits, long Substitutions, long Deletions, long Insertions)
{
    /// <summary>N, the number of reference tokens: hits + substitutions + deletions.</summary>
    public long ReferenceLength => Hits + Substitutions + Deletions;
    /// <summary>
    /// Total edits: substitutions + deletions + insertions (the Levenshtein distance of the alignment).
    /// </summary>
    public long Edits => Substitutions + Deletions + Insertions;

    /// <summary>
    /// (S + D + I) / N. Rule for an empty reference (N = 0): the denominator is taken as 1, so the rate is the number of
    /// insertions: 0 when the hypothesis is empty too, and at least 1 when it is not (never a silent division by zero, never NaN).
    /// </summary>
    public double ErrorRate => (double)Edits / Math.Max(ReferenceLength, 1);

    /// <summary>Adds the counts field by field, to pool utterances into corpus counts.</summary>
    public static EditCounts operator +(EditCounts a, EditCounts b) =>
        new(a.Hits + b.Hits, a.Substitutions + b.Substitutions, a.Deletions + b.Deletions, a.Insertions + b.Insertions);

    /// <summary>
    /// Levenshtein alignment with unit costs; among the minimum-cost alignments, backtracking prefers a hit or substitution,
    /// then a deletion, then an insertion, so the split into S/D/I is deterministic.
    /// </summary>
    public static EditCounts Align<T>(IReadOnlyList<T> reference, IReadOnlyList<T> hypothesis, IEqualityComparer<T>? comparer = null)
    {
        comparer ??= EqualityComparer<T>.Default;
        int n = reference.Count, m = hypothesis.Count;
        var cost = new int[n + 1, m + 1];
        for (int i = 0; i <= n; i++) cost[i, 0] = i;
        for (int j = 0; j <= m; j++) cost[0, j] = j;
        for (int i = 1; i <= n; i++)
            for (int j = 1; j <= m; j++)
            {
                int diagonal = cost[i - 1, j - 1] + (comparer.Equals(reference[i - 1], hypothesis[j - 1]) ? 0 : 1);
                cost[i, j] = Math.Min(diagonal, Math.Min(cost[i - 1, j], cost[i, j - 1]) + 1);
            }
        long h = 0, s = 0, d = 0, ins = 0;
        for (int i = n, j = m; i > 0 || j > 0;)
        {
            if (i > 0 && j > 0)
            {
                bool same = comparer.Equals(reference[i - 1], hypothesis[j - 1]);
                if (cost[i, j] == cost[i - 1, j - 1] + (same ? 0 : 1))
                {
                    if (same) h++; else s++;
                    i--; j--;
                    continue;
                }
            }
            if (i > 0 && cost[i, j] == cost[i - 1, j] + 1) { d++; i--; }
            else { ins++; j--; }
        }
        return new EditCounts(h, s, d, ins);
    }
}
