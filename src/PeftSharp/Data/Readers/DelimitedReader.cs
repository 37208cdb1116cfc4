namespace PeftSharp.Data;

/// <summary>
/// CSV and TSV, row by row. Without <c>columnNames</c> the first row is the header. Bad rows go to the
/// <see cref="RecordIssues"/>; an empty header row throws <see cref="InvalidFileFormatException"/>.
/// </summary>
public static class DelimitedReader
{
    /// <summary>
    /// Reads a CSV or TSV file lazily; the file is opened when enumeration starts and closed when it ends.
    /// </summary>
    /// <param name="path">The file; also the source named in messages.</param>
    /// <param name="delimiter">',' for CSV (RFC 4180 quoting), '\t' for TSV (quotes taken literally).</param>
    /// <param name="columnNames">The column names of a file without a header row; null: the first row is the header.</param>
    /// <param name="issues">Receives malformed rows (wrong column count, unclosed quote).</param>
    /// <returns>One record per non-blank row, every field a string, <see cref="Record.Line"/> the row's 1-based starting line.</returns>
    /// <exception cref="InvalidFileFormatException">The header row is empty, or a row is malformed under on_error: fail.</exception>
    public static IEnumerable<Record> Read(string path, char delimiter, IReadOnlyList<string>? columnNames, RecordIssues issues)
    {
        using var reader = new StreamReader(path);
        foreach (var r in Read(reader, path, delimiter, columnNames, issues)) yield return r;
    }

    /// <summary>Reads CSV or TSV from a reader the caller owns; see the path overload.</summary>
    /// <param name="reader">The text to read.</param>
    /// <param name="source">Names the input in records and messages.</param>
    /// <param name="delimiter">',' for CSV (RFC 4180 quoting), '\t' for TSV (quotes taken literally).</param>
    /// <param name="columnNames">The column names of input without a header row; null: the first row is the header.</param>
    /// <param name="issues">Receives malformed rows.</param>
    public static IEnumerable<Record> Read(TextReader reader, string source, char delimiter, IReadOnlyList<string>? columnNames, RecordIssues issues)
    {
        var parser = new DelimitedRowParser(reader, delimiter, quoting: delimiter != '\t');
        string[] header;
        if (columnNames is null)
        {
            if (parser.Next() is not { } first) yield break;
            header = first.Fields;
            if (header.All(string.IsNullOrWhiteSpace))
                throw new InvalidFileFormatException(source, "line 1: empty header row; add a header row or set column_names for a file without one");
        }
        else header = [.. columnNames];

        while (parser.Next() is { } row)
        {
            if (row.Fields.Length == 1 && row.Fields[0].Length == 0) continue; // blank line
            if (row.Malformed)
            {
                issues.Report(source, row.Line, "unclosed quote", "a quoted value runs to the end of the file", "close the quote or double quotes inside a quoted value (\"\")");
                continue;
            }
            if (row.Fields.Length != header.Length)
            {
                issues.Report(source, row.Line, "wrong number of columns", $"{row.Fields.Length} values for {header.Length} columns ({string.Join(", ", header)})",
                    "give every row one value per column (quote values that contain the delimiter)");
                continue;
            }
            var fields = row.Fields;
            yield return Record.FromStrings(header.Select((h, i) => new KeyValuePair<string, string?>(h, fields[i])), source, row.Line);
        }
    }
}
