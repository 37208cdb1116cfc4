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

public sealed record DatasetBuildResult(
    IReadOnlyList<TokenizedExample> Train,
    IReadOnlyList<TokenizedExample> Eval,
    DatasetStats TrainStats,
    DatasetStats? EvalStats);
