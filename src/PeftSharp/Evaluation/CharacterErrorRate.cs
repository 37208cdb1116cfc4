using System.Globalization;

namespace PeftSharp.Evaluation;

/// <summary>
/// Character error rate: the same alignment as <see cref="WordErrorRate"/> over characters (Unicode text elements, so a
/// base letter with combining marks or a surrogate pair counts once). With <c>ignoreWhitespace</c> spaces are dropped
/// before aligning, which suits languages written without spaces (Chinese, Japanese, Thai) and makes the score
/// independent of word segmentation; otherwise runs of whitespace count as one space, as jiwer's default CER does.
/// </summary>
public static class CharacterErrorRate
{
    /// <summary>
    /// Edit counts of one hypothesis against one reference, aligned over characters (see the class for whitespace
    /// handling).
    /// </summary>
    /// <param name="reference">The correct transcript.</param>
    /// <param name="hypothesis">The transcript to score.</param>
    /// <param name="ignoreWhitespace">Drop spaces before aligning (for languages written without them); default
    /// false.</param>
    /// <param name="normalize">Applied to both texts first (e.g. <see cref="WhisperTextNormalizer.Normalize"/>); null =
    /// as given.</param>
    public static EditCounts Counts(string reference, string hypothesis, bool ignoreWhitespace = false, Func<string, string>? normalize = null) =>
        EditCounts.Align(Characters(reference, ignoreWhitespace, normalize), Characters(hypothesis, ignoreWhitespace, normalize), StringComparer.Ordinal);

    /// <summary>
    /// CER of one hypothesis against one reference: (S + D + I) / reference characters, as jiwer.cer; see
    /// </summary>
    /// <see cref="Counts(string, string, bool, Func{string, string}?)"/> for the arguments and
    /// <see cref="EditCounts.ErrorRate"/> for an empty reference.
    public static double Compute(string reference, string hypothesis, bool ignoreWhitespace = false, Func<string, string>? normalize = null) =>
        Counts(reference, hypothesis, ignoreWhitespace, normalize).ErrorRate;

    /// <summary>Corpus-level counts: sum of edits over sum of reference characters.</summary>
    public static EditCounts Counts(IReadOnlyList<string> references, IReadOnlyList<string> hypotheses, bool ignoreWhitespace = false, Func<string, string>? normalize = null) =>
        Corpus.Sum(references, hypotheses, (r, h) => Counts(r, h, ignoreWhitespace, normalize), "character error rate");

    /// <summary>
    /// Corpus CER: summed edits over summed reference characters (not a mean of per-utterance rates).
    /// </summary>
    /// <exception cref="ConfigurationException">The lists differ in length, are empty, or hold a null.</exception>
    public static double Compute(IReadOnlyList<string> references, IReadOnlyList<string> hypotheses, bool ignoreWhitespace = false, Func<string, string>? normalize = null) =>
        Counts(references, hypotheses, ignoreWhitespace, normalize).ErrorRate;

    static List<string> Characters(string text, bool ignoreWhitespace, Func<string, string>? normalize)
    {
        var words = (normalize is null ? text : normalize(text)).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var chars = new List<string>();
        for (int w = 0; w < words.Length; w++)
        {
            if (w > 0 && !ignoreWhitespace) chars.Add(" ");
            var e = StringInfo.GetTextElementEnumerator(words[w]);
            while (e.MoveNext()) chars.Add(e.GetTextElement());
        }
        return chars;
    }
}
