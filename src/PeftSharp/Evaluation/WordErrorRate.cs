namespace PeftSharp.Evaluation;

/// <summary>
/// Word error rate: references and hypotheses are split on whitespace (after an optional normalizer), aligned word by word,
/// and the corpus rate is the sum of edits over the sum of reference words (as jiwer), not the mean of per-utterance
/// rates: a long utterance weighs more than a short one. See <see cref="EditCounts.ErrorRate"/> for the empty-reference rule.
/// </summary>
public static class WordErrorRate
{
    public static EditCounts Counts(string reference, string hypothesis, Func<string, string>? normalize = null) =>
        EditCounts.Align(Words(reference, normalize), Words(hypothesis, normalize), StringComparer.Ordinal);

    public static double Compute(string reference, string hypothesis, Func<string, string>? normalize = null) =>
        Counts(reference, hypothesis, normalize).ErrorRate;

    /// <summary>Corpus-level counts; their <see cref="EditCounts.ErrorRate"/> is the corpus WER.</summary>
    public static EditCounts Counts(IReadOnlyList<string> references, IReadOnlyList<string> hypotheses, Func<string, string>? normalize = null) =>
        Corpus.Sum(references, hypotheses, (r, h) => Counts(r, h, normalize), "word error rate");

    public static double Compute(IReadOnlyList<string> references, IReadOnlyList<string> hypotheses, Func<string, string>? normalize = null) =>
        Counts(references, hypotheses, normalize).ErrorRate;

    static string[] Words(string text, Func<string, string>? normalize) =>
        (normalize is null ? text : normalize(text)).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
}
