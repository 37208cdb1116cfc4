namespace PeftSharp.Data;

/// <summary>
/// Collects malformed records: under <see cref="OnError.Fail"/> the first one throws with file:line and the fix;
/// under <see cref="OnError.Skip"/> they are counted per reason and reported once through <see cref="Diagnostics.Warn"/>.
/// </summary>
public sealed class RecordIssues
{
    const int KeptLocations = 5;
    readonly List<string> first = [];
    readonly Dictionary<string, int> byReason = new(StringComparer.Ordinal);

    /// <summary>Skip (count and warn once) or Fail (throw at the first problem); the dataset's on_error.</summary>
    public OnError Policy { get; }
    /// <summary>Number of records skipped so far (always 0 under Fail, which throws instead).</summary>
    public int Count { get; private set; }
    /// <summary>The first few problems, each "file:line: problem".</summary>
    public IReadOnlyList<string> FirstLocations => first;
    /// <summary>How many records were skipped for each reason (e.g. "invalid JSON", "missing field 'output'").</summary>
    public IReadOnlyDictionary<string, int> ByReason => byReason;

    /// <summary>Starts an empty collection with the given policy (default <see cref="OnError.Skip"/>).</summary>
    public RecordIssues(OnError policy = OnError.Skip) => Policy = policy;

    /// <summary>Records one malformed record: counts it under Skip, throws under Fail.</summary>
    /// <param name="source">The file the record came from.</param>
    /// <param name="line">Its 1-based line (or element/row number).</param>
    /// <param name="reason">A short category used for counting.</param>
    /// <param name="detail">The specifics of this record.</param>
    /// <param name="fix">What the user can do about it; part of the exception under Fail.</param>
    /// <exception cref="InvalidFileFormatException">The policy is <see cref="OnError.Fail"/>.</exception>
    public void Report(string source, long line, string reason, string detail, string fix)
    {
        if (Policy == OnError.Fail)
            throw new InvalidFileFormatException(source, $"line {line}: {reason}: {detail}; {fix} (or set on_error: skip to skip such records)");
        Count++;
        byReason[reason] = byReason.GetValueOrDefault(reason) + 1;
        if (first.Count < KeptLocations) first.Add($"{source}:{line}: {reason}: {detail}");
    }

    /// <summary>One warning for everything skipped so far; nothing when all records were fine.</summary>
    public void WarnIfAny()
    {
        if (Count == 0) return;
        string reasons = string.Join(", ", byReason.Select(kv => $"{kv.Value} {kv.Key}"));
        Diagnostics.Warn($"skipped {Count} malformed record(s) ({reasons}); first: {string.Join("; ", first)}");
    }
}
