using System.Text;

namespace PeftSharp.Data;

/// <summary>Plain text as records: the whole file, one per non-empty line, or one per blank-line-separated paragraph.</summary>
public static class PlainTextReader
{
    /// <summary>
    /// Reads a UTF-8 text file as records; <see cref="Record.Line"/> is the 1-based line the record starts on.
    /// </summary>
    /// <param name="path">The file; also the source named in records.</param>
    /// <param name="split">Whole file, one record per non-empty line, or one per blank-line-separated paragraph.</param>
    /// <param name="field">The field each record's text goes into; default "text".</param>
    public static IEnumerable<Record> Read(string path, TextSplit split, string field = "text")
    {
        using var reader = new StreamReader(path, Encoding.UTF8);
        foreach (var r in Read(reader, path, split, field)) yield return r;
    }

    /// <summary>Reads text from a reader the caller owns; see the path overload.</summary>
    /// <param name="reader">The text.</param>
    /// <param name="source">Names the input in records.</param>
    /// <param name="split">Whole, line or paragraph.</param>
    /// <param name="field">The field each record's text goes into; default "text".</param>
    public static IEnumerable<Record> Read(TextReader reader, string source, TextSplit split, string field = "text")
    {
        if (split == TextSplit.Whole)
        {
            string all = reader.ReadToEnd();
            if (all.Length > 0) yield return Make(all, 1);
            yield break;
        }
        var paragraph = new StringBuilder();
        long line = 0, start = 0;
        while (reader.ReadLine() is { } text)
        {
            line++;
            if (split == TextSplit.Line)
            {
                if (text.Length > 0) yield return Make(text, line);
                continue;
            }
            if (string.IsNullOrWhiteSpace(text))
            {
                if (paragraph.Length > 0) yield return Make(paragraph.ToString(), start);
                paragraph.Clear();
                continue;
            }
            if (paragraph.Length == 0) start = line;
            else paragraph.Append('\n');
            paragraph.Append(text);
        }
        if (paragraph.Length > 0) yield return Make(paragraph.ToString(), start);

        Record Make(string text, long at) => Record.FromStrings([new(field, text)], source, at);
    }
}
