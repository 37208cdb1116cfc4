namespace PeftSharp.Data;

/// <summary>What building a dataset did: records parsed, records skipped as malformed (by reason), examples dropped by truncation, token counts.</summary>
public sealed record DatasetStats(
    long RecordsRead,
    long RecordsSkipped,
    IReadOnlyDictionary<string, int> SkipReasons,
    long DroppedAfterTruncation,
    long Examples,
    long Tokens,
    long TrainableTokens);

/// <summary>
/// The output of <see cref="DatasetBuilder.Build"/>: tokenized train and eval examples and what building each split
/// did.
/// </summary>
/// <param name="Train">Training examples (in memory, or backed by a temporary file when streaming).</param>
/// <param name="Eval">Evaluation examples from eval_path or the eval_split hold-out; empty when neither is configured.</param>
/// <param name="TrainStats">Statistics of the training file (before any eval_split hold-out).</param>
/// <param name="EvalStats">Statistics of eval_path; null when eval came from a split of the training file or there is none.</param>
public sealed record DatasetBuildResult(
    IReadOnlyList<TokenizedExample> Train,
    IReadOnlyList<TokenizedExample> Eval,
    DatasetStats TrainStats,
    DatasetStats? EvalStats);
