using System.Buffers.Binary;
using System.Text.Json;
using Parquet;
using Parquet.Schema;

namespace PeftSharp.Data;

/// <summary>
/// Parquet files as written by Hugging Face datasets: one row group in memory at a time. Flat string, integer,
/// floating-point and boolean columns become fields; nested columns (lists, structs) are not read and are named
/// in a warning. A malformed file throws <see cref="InvalidFileFormatException"/>: the framing (PAR1 magic at both
/// ends, footer length) is checked here before Parquet.Net sees the file, and whatever Parquet.Net throws on a
/// corrupt file is wrapped with the file's name. Parquet.Net 6.1 can still spin forever on some corrupt page
/// headers, so Parquet is not in the reader fuzz tests.
/// </summary>
public static class ParquetRecordReader
{
    static ReadOnlySpan<byte> Magic => "PAR1"u8;

    /// <summary>
    /// Reads a Parquet file lazily, one row group at a time; <see cref="Record.Line"/> is the 1-based row number across
    /// row groups.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <exception cref="InvalidFileFormatException">The file is truncated, not Parquet, or corrupt.</exception>
    public static IEnumerable<Record> Read(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        CheckFraming(stream, path);
        var reader = Library(path, () => ParquetReader.CreateAsync(stream, leaveStreamOpen: true).GetAwaiter().GetResult());
        try
        {
            var fields = reader.Schema.DataFields.Where(f => !f.IsArray && f.Path.Length == 1).ToArray();
            var nested = reader.Schema.DataFields.Where(f => f.IsArray || f.Path.Length != 1).Select(f => f.Path.ToString()).ToArray();
            if (nested.Length > 0)
                Diagnostics.Warn($"{path}: nested Parquet columns are not read: {string.Join(", ", nested)}");
            long row = 0;
            for (int g = 0; g < reader.RowGroupCount; g++)
            {
                using var group = Library(path, () => reader.OpenRowGroupReader(g));
                if (group.RowCount is < 0 or > int.MaxValue)
                    throw new InvalidFileFormatException(path, $"row group {g} claims {group.RowCount} rows; the file is corrupt");
                int n = (int)group.RowCount;
                var columns = fields.Select(f => Library(path, () => ReadColumn(group, f, n, path))).ToArray();
                for (int i = 0; i < n; i++)
                {
                    var dict = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
                    for (int c = 0; c < fields.Length; c++) dict[fields[c].Name] = columns[c][i];
                    yield return new Record(dict, path, ++row);
                }
            }
        }
        finally
        {
            reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>"PAR1", the data, the footer, its 4-byte length, "PAR1": refuses what is plainly not that.</summary>
    static void CheckFraming(FileStream stream, string path)
    {
        long length = stream.Length;
        if (length < 12)
            throw new InvalidFileFormatException(path, $"{length} bytes is too short for a Parquet file (PAR1 header, footer, PAR1 trailer); it is truncated or not Parquet");
        Span<byte> head = stackalloc byte[4], tail = stackalloc byte[8];
        stream.ReadExactly(head);
        stream.Seek(-8, SeekOrigin.End);
        stream.ReadExactly(tail);
        stream.Seek(0, SeekOrigin.Begin);
        if (!head.SequenceEqual(Magic))
            throw new InvalidFileFormatException(path, "does not start with the Parquet magic 'PAR1'; it is not a Parquet file (set the dataset type if the extension is wrong)");
        if (!tail[4..].SequenceEqual(Magic))
            throw new InvalidFileFormatException(path, "does not end with the Parquet magic 'PAR1': the file is truncated (re-download or re-export it)");
        long footer = BinaryPrimitives.ReadUInt32LittleEndian(tail);
        if (footer == 0 || footer > length - 12)
            throw new InvalidFileFormatException(path, $"footer length {footer} does not fit in the {length}-byte file; the file is corrupt or truncated");
    }

    /// <summary>Runs a Parquet.Net call; what it throws on a corrupt file becomes an error naming the file.</summary>
    static T Library<T>(string path, Func<T> call)
    {
        try { return call(); }
        catch (Exception e) when (e is not PeftSharpException and not OperationCanceledException)
        {
            throw new InvalidFileFormatException(path, $"not a readable Parquet file ({e.GetType().Name}: {e.Message}); the file is corrupt or truncated", e);
        }
    }

    static JsonElement[] ReadColumn(ParquetRowGroupReader group, DataField field, int n, string path)
    {
        var t = Nullable.GetUnderlyingType(field.ClrType) ?? field.ClrType;
        // Parquet.Net 6 reports UTF-8 columns as ReadOnlyMemory<char>; they still read into strings.
        if (t == typeof(string) || t == typeof(ReadOnlyMemory<char>))
        {
            var buf = new string?[n];
            group.ReadAsync(field, buf.AsMemory(), null).GetAwaiter().GetResult();
            return [.. buf.Select(s => JsonSerializer.SerializeToElement(s))];
        }
        if (t == typeof(long)) return Read<long>(group, field, n);
        if (t == typeof(int)) return Read<int>(group, field, n);
        if (t == typeof(double)) return Read<double>(group, field, n);
        if (t == typeof(float)) return Read<float>(group, field, n);
        if (t == typeof(bool)) return Read<bool>(group, field, n);
        throw new InvalidFileFormatException(path, $"column '{field.Name}' has type {t.Name}, which is not supported; convert it to string");
    }

    static JsonElement[] Read<T>(ParquetRowGroupReader group, DataField field, int n) where T : struct
    {
        var buf = new T?[n];
        group.ReadAsync(field, buf.AsMemory(), null).GetAwaiter().GetResult();
        return [.. buf.Select(v => JsonSerializer.SerializeToElement(v))];
    }
}
