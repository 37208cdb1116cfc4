using System.Text.Json;
using Parquet;
using Parquet.Schema;

namespace PeftSharp.Data;

/// <summary>
/// Parquet files as written by Hugging Face datasets: one row group in memory at a time. Flat string, integer,
/// floating-point and boolean columns become fields; nested columns (lists, structs) are not read and are named
/// in a warning.
/// </summary>
public static class ParquetRecordReader
{
    public static IEnumerable<Record> Read(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        ParquetReader reader;
        try { reader = ParquetReader.CreateAsync(stream, leaveStreamOpen: true).GetAwaiter().GetResult(); }
        catch (Exception e) when (e is ParquetException or IOException)
        {
            throw new InvalidFileFormatException(path, $"not a readable Parquet file ({e.Message})", e);
        }
        try
        {
            var fields = reader.Schema.DataFields.Where(f => !f.IsArray && f.Path.Length == 1).ToArray();
            var nested = reader.Schema.DataFields.Where(f => f.IsArray || f.Path.Length != 1).Select(f => f.Path.ToString()).ToArray();
            if (nested.Length > 0)
                Diagnostics.Warn($"{path}: nested Parquet columns are not read: {string.Join(", ", nested)}");
            long row = 0;
            for (int g = 0; g < reader.RowGroupCount; g++)
            {
                using var group = reader.OpenRowGroupReader(g);
                int n = checked((int)group.RowCount);
                var columns = fields.Select(f => ReadColumn(group, f, n, path)).ToArray();
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
