using System.Text;

namespace PeftSharp.Data;

/// <summary>
/// Splits delimited text into rows. CSV follows RFC 4180 (double quotes, "" inside quotes, line breaks inside quotes);
/// TSV takes quotes literally, as GLUE's files need. Written here because CsvHelper 34 on the feed has a new,
/// still-moving API and this is all a dataset reader needs.
/// </summary>
sealed class DelimitedRowParser(TextReader reader, char delimiter, bool quoting)
{
    long line;

    /// <summary>The next row and the 1-based line it starts on; null at the end. <c>malformed</c> is set for an unclosed quote.</summary>
    public (string[] Fields, long Line, bool Malformed)? Next()
    {
        string? text = reader.ReadLine();
        if (text is null) return null;
        line++;
        long start = line;
        var fields = new List<string>();
        var field = new StringBuilder();
        bool inQuotes = false, malformed = false;
        int i = 0;
        while (true)
        {
            if (i >= text.Length)
            {
                if (!inQuotes) break;
                // A quoted field continues on the next line.
                string? more = reader.ReadLine();
                if (more is null) { malformed = true; break; }
                line++;
                field.Append('\n');
                text = more;
                i = 0;
                continue;
            }
            char c = text[i];
            if (inQuotes)
            {
                if (c == '"')
                {
                    if (i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i += 2; continue; }
                    inQuotes = false;
                }
                else field.Append(c);
            }
            else if (c == delimiter) { fields.Add(field.ToString()); field.Clear(); }
            else if (quoting && c == '"' && field.Length == 0) inQuotes = true;
            else field.Append(c);
            i++;
        }
        fields.Add(field.ToString());
        return ([.. fields], start, malformed);
    }
}
