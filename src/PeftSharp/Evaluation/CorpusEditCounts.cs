namespace PeftSharp.Evaluation;

/// <summary>Sums per-utterance edit counts over paired references and hypotheses.</summary>
static class Corpus
{
    public static EditCounts Sum(IReadOnlyList<string> references, IReadOnlyList<string> hypotheses, Func<string, string, EditCounts> align, string metric)
    {
        if (references.Count != hypotheses.Count)
            throw new ConfigurationException($"{metric}: {references.Count} references but {hypotheses.Count} hypotheses; pass one hypothesis per reference");
        if (references.Count == 0)
            throw new ConfigurationException($"{metric}: no utterances to score; the evaluation set is empty");
        var total = default(EditCounts);
        for (int i = 0; i < references.Count; i++)
        {
            if (references[i] is null || hypotheses[i] is null)
                throw new ConfigurationException($"{metric}: utterance {i} has a null {(references[i] is null ? "reference" : "hypothesis")}; use \"\" for an empty transcript");
            total += align(references[i], hypotheses[i]);
        }
        return total;
    }
}
