using System.Text;
using System.Text.Json;

namespace PeftSharp.Data;

/// <summary>
/// JSON Lines: one object per line, read line by line; blank lines are ignored. Lines that are not a JSON object, or
/// hold a string that is not text, go to the <see cref="RecordIssues"/>.
/// </summary>
public static class JsonlReader
{
    /// <summary>
    /// Reads a JSON Lines file lazily (opened when enumeration starts); <see cref="Record.Line"/> is the 1-based line.
    /// </summary>
    /// <param name="path">The file; also the source named in messages.</param>
    /// <param name="issues">Receives lines that are not a JSON object.</param>
    public static IEnumerable<Record> Read(string path, RecordIssues issues)
    {
        // Opened inside the iterator so the file stays closed until enumeration starts.
        foreach (var r in ReadOwned(path, issues)) yield return r;
    }

    static IEnumerable<Record> ReadOwned(string path, RecordIssues issues)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        foreach (var r in Read(stream, path, issues)) yield return r;
    }

    /// <summary>Reads from a stream the caller owns; <paramref name="source"/> names it in messages.</summary>
    public static IEnumerable<Record> Read(Stream stream, string source, RecordIssues issues)
    {
        using var reader = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16, leaveOpen: true);
        long line = 0;
        while (reader.ReadLine() is { } text)
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            var record = Parse(text, source, line, issues);
            if (record is not null) yield return record;
        }
    }

    static Record? Parse(string text, string source, long line, RecordIssues issues)
    {
        JsonElement root;
        try
        {
            using var doc = JsonDocument.Parse(text);
            root = doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            issues.Report(source, line, "invalid JSON", e.Message, "each line must be one complete JSON object");
            return null;
        }
        return JsonObjects.ToRecord(root, source, line, issues);
    }
}

static class JsonObjects
{
    public static Record? ToRecord(JsonElement root, string source, long line, RecordIssues issues)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            issues.Report(source, line, "not a JSON object", $"found {root.ValueKind}", "each record must be a JSON object such as {\"text\": \"...\"}");
            return null;
        }
        // Strings are decoded only when read: a record with one that is not text is malformed here, not deep in training.
        if (JsonReading.FirstUnreadableString(root) is { } where)
        {
            issues.Report(source, line, "invalid text", $"the string at {where} is not valid UTF-8 or holds an escaped lone surrogate such as \\ud800",
                "save the file as UTF-8");
            return null;
        }
        var fields = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var p in root.EnumerateObject()) fields[p.Name] = p.Value;
        return new Record(fields, source, line);
    }
}
