using System.Text.Json;

namespace PeftSharp.Data;

/// <summary>
/// One row of a dataset file: field name to JSON value, plus where it came from.
/// <see cref="Line"/> is the 1-based line for JSONL/CSV/TSV/text, the 1-based element index for a JSON array
/// and the 1-based row for Parquet.
/// </summary>
public sealed class Record
{
    public IReadOnlyDictionary<string, JsonElement> Fields { get; }
    public string Source { get; }
    public long Line { get; }

    public Record(IReadOnlyDictionary<string, JsonElement> fields, string source, long line)
    {
        Fields = fields;
        Source = source;
        Line = line;
    }

    public string Location => $"{Source}:{Line}";

    public bool Has(string name) => Fields.TryGetValue(name, out var v) && v.ValueKind != JsonValueKind.Null;

    public bool TryGet(string name, out JsonElement value) =>
        Fields.TryGetValue(name, out value) && value.ValueKind != JsonValueKind.Null;

    /// <summary>Builds a record whose fields are all strings (CSV, TSV, text, Parquet string columns).</summary>
    public static Record FromStrings(IEnumerable<KeyValuePair<string, string?>> fields, string source, long line)
    {
        var dict = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var (k, v) in fields) dict[k] = JsonSerializer.SerializeToElement(v);
        return new Record(dict, source, line);
    }
}
