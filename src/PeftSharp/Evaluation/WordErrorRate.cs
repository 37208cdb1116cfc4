namespace PeftSharp.Evaluation;

/// <summary>
/// Word error rate: references and hypotheses are split on whitespace (after an optional normalizer), aligned word by word,
/// and the corpus rate is the sum of edits over the sum of reference words (as jiwer), not the mean of per-utterance
/// rates: a long utterance weighs more than a short one. See <see cref="EditCounts.ErrorRate"/> for the empty-reference rule.
/// </summary>
public static class WordErrorRate
{
    /// <summary>Edit counts of one hypothesis against one reference, aligned word by word.</summary>
    /// <param name="reference">The correct transcript.</param>
    /// <param name="hypothesis">The transcript to score.</param>
    /// <param name="normalize">Applied to both texts first (e.g. <see cref="WhisperTextNormalizer.Normalize"/>); null =
    /// as given.</param>
    public static EditCounts Counts(string reference, string hypothesis, Func<string, string>? normalize = null) =>
        EditCounts.Align(Words(reference, normalize), Words(hypothesis, normalize), StringComparer.Ordinal);

    /// <summary>
    /// WER of one hypothesis against one reference: (S + D + I) / reference words, as jiwer.wer (0 = perfect; may
    /// exceed 1).
    /// </summary>
    public static double Compute(string reference, string hypothesis, Func<string, string>? normalize = null) =>
        Counts(reference, hypothesis, normalize).ErrorRate;

    /// <summary>Corpus-level counts; their <see cref="EditCounts.ErrorRate"/> is the corpus WER.</summary>
    public static EditCounts Counts(IReadOnlyList<string> references, IReadOnlyList<string> hypotheses, Func<string, string>? normalize = null) =>
        Corpus.Sum(references, hypotheses, (r, h) => Counts(r, h, normalize), "word error rate");

    /// <summary>Corpus WER: summed edits over summed reference words, as jiwer does for lists.</summary>
    /// <exception cref="ConfigurationException">The lists differ in length, are empty, or hold a null.</exception>
    public static double Compute(IReadOnlyList<string> references, IReadOnlyList<string> hypotheses, Func<string, string>? normalize = null) =>
        Counts(references, hypotheses, normalize).ErrorRate;

    static string[] Words(string text, Func<string, string>? normalize) =>
        (normalize is null ? text : normalize(text)).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
}
