using System.Text.Json;

namespace PeftSharp.Data;

/// <summary>
/// A JSON file holding one array of objects, streamed element by element (System.Text.Json's async enumerable),
/// so the file is never held in memory at once. Record.Line is the element's 1-based index. Elements that are not
/// objects or hold strings that are not text go to the <see cref="RecordIssues"/>; invalid JSON throws
/// <see cref="InvalidFileFormatException"/>, since the rest of the array cannot be found.
/// </summary>
public static class JsonArrayReader
{
    /// <summary>Reads a JSON array file element by element; the file is opened when enumeration starts.</summary>
    /// <param name="path">The file; also the source named in messages.</param>
    /// <param name="issues">Receives elements that are not objects.</param>
    /// <exception cref="InvalidFileFormatException">The JSON is invalid (the rest of the array cannot be found).</exception>
    public static IEnumerable<Record> Read(string path, RecordIssues issues)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        foreach (var r in Read(stream, path, issues)) yield return r;
    }

    /// <summary>
    /// Reads a JSON array from a stream the caller owns; <see cref="Record.Line"/> is the 1-based element index.
    /// </summary>
    /// <param name="stream">The JSON text (UTF-8).</param>
    /// <param name="source">Names the input in records and messages.</param>
    /// <param name="issues">Receives elements that are not objects.</param>
    /// <exception cref="InvalidFileFormatException">The JSON is invalid.</exception>
    public static IEnumerable<Record> Read(Stream stream, string source, RecordIssues issues)
    {
        var elements = JsonSerializer.DeserializeAsyncEnumerable<JsonElement>(stream).ToBlockingEnumerable();
        using var e = elements.GetEnumerator();
        long index = 0;
        while (true)
        {
            JsonElement element;
            try
            {
                if (!e.MoveNext()) yield break;
                element = e.Current;
            }
            catch (JsonException ex)
            {
                // The rest of the array cannot be parsed, so this cannot be skipped.
                throw new InvalidFileFormatException(source,
                    $"invalid JSON after element {index} (line {(ex.LineNumber ?? 0) + 1}): {ex.Message}; the file must be one JSON array of objects (use .jsonl for one object per line)", ex);
            }
            index++;
            var record = JsonObjects.ToRecord(element, source, index, issues);
            if (record is not null) yield return record;
        }
    }
}
