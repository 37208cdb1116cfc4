using System.Text.Json;

namespace PeftSharp.Data;

/// <summary>
/// One row of a dataset file: field name to JSON value, plus where it came from.
/// <see cref="Line"/> is the 1-based line for JSONL/CSV/TSV/text, the 1-based element index for a JSON array
/// and the 1-based row for Parquet.
/// </summary>
public sealed class Record
{
    /// <summary>
    /// Field name to value (ordinal, case-sensitive names). CSV/TSV/text fields are JSON strings; JSON/JSONL keep their
    /// types.
    /// </summary>
    public IReadOnlyDictionary<string, JsonElement> Fields { get; }
    /// <summary>The file (or stream name) the record came from, for messages.</summary>
    public string Source { get; }
    /// <summary>1-based position in the source (line, array element or Parquet row; see the class remarks).</summary>
    public long Line { get; }

    /// <summary>Wraps already-parsed fields.</summary>
    /// <param name="fields">Field name to JSON value.</param>
    /// <param name="source">The file it came from.</param>
    /// <param name="line">Its 1-based position in that file.</param>
    public Record(IReadOnlyDictionary<string, JsonElement> fields, string source, long line)
    {
        Fields = fields;
        Source = source;
        Line = line;
    }

    /// <summary>"source:line", the prefix of messages about this record.</summary>
    public string Location => $"{Source}:{Line}";

    /// <summary>True when the field exists and is not JSON null.</summary>
    public bool Has(string name) => Fields.TryGetValue(name, out var v) && v.ValueKind != JsonValueKind.Null;

    /// <summary>
    /// Gets a field's value; false when it is missing or JSON null (an empty optional field, e.g. alpaca's input).
    /// </summary>
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
