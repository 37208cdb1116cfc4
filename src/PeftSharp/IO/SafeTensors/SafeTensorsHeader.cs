using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace PeftSharp.IO.SafeTensors;

/// <summary>Where one tensor lives in the data section; offsets are relative to the data section start.</summary>
internal sealed record TensorEntry(TensorInfo Info, long[] Shape, long Begin, long End);

/// <summary>
/// The parsed, validated JSON header of a safetensors file. The header is untrusted input: every check runs
/// before any tensor memory is allocated, and every rejection names the file, the key and the problem.
/// </summary>
internal sealed class SafeTensorsHeader
{
    public const string MetadataKey = "__metadata__";
    /// <summary>The Python reference rejects headers over 100 MB; so do we, before reading them.</summary>
    public const long MaxHeaderBytes = 100_000_000;
    /// <summary>Guards the shape list: libtorch tensors cannot have more dims than this anyway.</summary>
    public const int MaxRank = 64;

    public required Dictionary<string, TensorEntry> Entries { get; init; }
    public required Dictionary<string, string> Metadata { get; init; }
    /// <summary>Keys in data order (ascending offsets), the order a sequential reader touches the file.</summary>
    public required string[] KeysInFileOrder { get; init; }

    public static SafeTensorsHeader Parse(ReadOnlySpan<byte> json, long dataLength, string path)
    {
        if (!Utf8.IsValid(json))
            throw Fail(path, $"header is not valid UTF-8 (first bad byte at header offset {FirstInvalidUtf8(json)}); "
                + "the file is corrupt or not a safetensors file");
        var entries = new Dictionary<string, TensorEntry>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 16 });
        try
        {
            if (!reader.Read())
                throw Fail(path, "header is empty; expected a JSON object");
            if (reader.TokenType != JsonTokenType.StartObject)
                throw Fail(path, $"header must be a JSON object of tensors, but it is a JSON {Describe(reader.TokenType)}");
            bool sawMetadata = false;
            while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
            {
                string key = reader.GetString()!;
                reader.Read();
                if (key == MetadataKey)
                {
                    if (sawMetadata)
                        throw Fail(path, $"duplicate key '{MetadataKey}' in header");
                    sawMetadata = true;
                    ReadMetadata(ref reader, metadata, path);
                }
                else
                {
                    if (entries.ContainsKey(key))
                        throw Fail(path, $"tensor '{key}': duplicate key in header; each tensor name must appear once");
                    entries.Add(key, ReadEntry(ref reader, key, path));
                }
            }
            // Reading past the object makes the reader reject trailing garbage ("{...} x").
            while (reader.Read()) { }
        }
        catch (JsonException e)
        {
            throw new InvalidFileFormatException(path,
                $"header is not valid JSON: {e.Message} The file is corrupt or not a safetensors file.", e);
        }
        catch (InvalidOperationException e)
        {
            // The UTF-8 is checked above; what GetString can still refuse is an escaped lone surrogate ("\ud800").
            throw new InvalidFileFormatException(path,
                $"header holds a string that is not valid text ({e.Message}); the file is corrupt or not a safetensors file", e);
        }
        var ordered = ValidateLayout(entries, dataLength, path);
        return new SafeTensorsHeader { Entries = entries, Metadata = metadata, KeysInFileOrder = ordered };
    }

    private static void ReadMetadata(ref Utf8JsonReader reader, Dictionary<string, string> metadata, string path)
    {
        if (reader.TokenType == JsonTokenType.Null)
            return; // the reference writes and accepts "__metadata__": null
        if (reader.TokenType != JsonTokenType.StartObject)
            throw Fail(path, $"'{MetadataKey}' must be an object of string to string, but it is a JSON {Describe(reader.TokenType)}");
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            string name = reader.GetString()!;
            reader.Read();
            if (reader.TokenType != JsonTokenType.String)
                throw Fail(path, $"'{MetadataKey}' entry '{name}' is a JSON {Describe(reader.TokenType)}; "
                    + "metadata values must be strings (quote the value)");
            if (!metadata.TryAdd(name, reader.GetString()!))
                throw Fail(path, $"'{MetadataKey}' entry '{name}' appears twice");
        }
    }

    private static TensorEntry ReadEntry(ref Utf8JsonReader reader, string key, string path)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
            throw Fail(path, $"tensor '{key}': entry is a JSON {Describe(reader.TokenType)}, "
                + "expected an object with dtype, shape and data_offsets");
        TensorDType? dtype = null;
        long[]? shape = null;
        long[]? offsets = null;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            string field = reader.GetString()!;
            reader.Read();
            switch (field)
            {
                case "dtype":
                    if (dtype is not null) throw Fail(path, $"tensor '{key}': field 'dtype' appears twice");
                    dtype = ReadDType(ref reader, key, path);
                    break;
                case "shape":
                    if (shape is not null) throw Fail(path, $"tensor '{key}': field 'shape' appears twice");
                    shape = ReadIntArray(ref reader, key, "shape", MaxRank, path);
                    break;
                case "data_offsets":
                    if (offsets is not null) throw Fail(path, $"tensor '{key}': field 'data_offsets' appears twice");
                    offsets = ReadIntArray(ref reader, key, "data_offsets", 2, path);
                    if (offsets.Length != 2)
                        throw Fail(path, $"tensor '{key}': data_offsets must be 2 integers [begin, end], got {offsets.Length}");
                    break;
                default:
                    reader.Skip(); // unknown fields are ignored, as the reference reader does
                    break;
            }
        }
        if (dtype is null) throw Fail(path, $"tensor '{key}': missing field 'dtype'");
        if (shape is null) throw Fail(path, $"tensor '{key}': missing field 'shape'");
        if (offsets is null) throw Fail(path, $"tensor '{key}': missing field 'data_offsets'");
        long byteLength = ByteLength(dtype.Value, shape, key, path);
        var info = new TensorInfo(key, dtype.Value, (long[])shape.Clone(), byteLength);
        return new TensorEntry(info, shape, offsets[0], offsets[1]);
    }

    private static TensorDType ReadDType(ref Utf8JsonReader reader, string key, string path)
    {
        if (reader.TokenType != JsonTokenType.String)
            throw Fail(path, $"tensor '{key}': dtype is a JSON {Describe(reader.TokenType)}, expected a string such as \"F32\"");
        string name = reader.GetString()!;
        if (!TensorDTypes.TryParse(name, out var dtype))
            throw Fail(path, $"tensor '{key}': unknown dtype '{name}'; supported dtypes are {TensorDTypes.SupportedNames}");
        return dtype;
    }

    /// <summary>Reads an array of non-negative 64-bit integers, at most <paramref name="max"/> of them.</summary>
    private static long[] ReadIntArray(ref Utf8JsonReader reader, string key, string field, int max, string path)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
            throw Fail(path, $"tensor '{key}': {field} is a JSON {Describe(reader.TokenType)}, expected an array of integers");
        var values = new List<long>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.Number)
                throw Fail(path, $"tensor '{key}': {field} holds a JSON {Describe(reader.TokenType)}, expected integers");
            if (!reader.TryGetInt64(out long value))
                throw Fail(path, $"tensor '{key}': {field} value {Encoding.UTF8.GetString(reader.ValueSpan)} "
                    + "is not an integer that fits in 64 bits");
            if (value < 0)
                throw Fail(path, $"tensor '{key}': {field} value {value} is negative");
            if (values.Count == max)
                throw Fail(path, $"tensor '{key}': {field} has more than {max} values");
            values.Add(value);
        }
        return values.ToArray();
    }

    private static long ByteLength(TensorDType dtype, long[] shape, string key, string path)
    {
        try
        {
            long numel = 1, extent = 1;
            foreach (long dim in shape)
            {
                numel = checked(numel * dim);
                // libtorch lays out strides as products of max(dim, 1): an empty [0, 3, 3, ...] tensor still needs them to fit.
                extent = checked(extent * Math.Max(dim, 1));
            }
            _ = checked(extent * dtype.ElementSize());
            return checked(numel * dtype.ElementSize());
        }
        catch (OverflowException)
        {
            throw Fail(path, $"tensor '{key}': shape [{string.Join(", ", shape)}] with dtype {dtype.ToName()} "
                + "has more bytes than a 64-bit count can hold; the header is corrupt");
        }
    }

    /// <summary>Checks each tensor's byte range against its size and the data section; returns keys by offset.</summary>
    private static string[] ValidateLayout(Dictionary<string, TensorEntry> entries, long dataLength, string path)
    {
        foreach (var (key, e) in entries)
        {
            if (e.Begin > e.End)
                throw Fail(path, $"tensor '{key}': data_offsets [{e.Begin}, {e.End}] has begin > end");
            if (e.End > dataLength)
                throw Fail(path, $"tensor '{key}': data_offsets [{e.Begin}, {e.End}] run past the end of the data section "
                    + $"({dataLength} bytes); the file is truncated or the header is corrupt");
            if (e.End - e.Begin != e.Info.ByteLength)
                throw Fail(path, $"tensor '{key}': data_offsets [{e.Begin}, {e.End}] span {e.End - e.Begin} bytes, but dtype "
                    + $"{e.Info.DType.ToName()} with shape [{string.Join(", ", e.Shape)}] needs {e.Info.ByteLength} bytes");
        }
        var ordered = entries.Values.OrderBy(e => e.Begin).ThenBy(e => e.End).ToArray();
        TensorEntry? previous = null;
        foreach (var e in ordered)
        {
            if (e.Begin == e.End)
                continue; // empty tensors occupy no bytes and cannot overlap anything
            if (previous is not null && e.Begin < previous.End)
                throw Fail(path, $"tensor '{e.Info.Name}': data_offsets [{e.Begin}, {e.End}] overlap tensor "
                    + $"'{previous.Info.Name}' at [{previous.Begin}, {previous.End}]");
            previous = e;
        }
        return ordered.Select(e => e.Info.Name).ToArray();
    }

    private static long FirstInvalidUtf8(ReadOnlySpan<byte> bytes)
    {
        int index = 0;
        while (index < bytes.Length)
        {
            if (System.Text.Rune.DecodeFromUtf8(bytes[index..], out _, out int consumed) != System.Buffers.OperationStatus.Done)
                return index;
            index += consumed;
        }
        return index;
    }

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartObject => "object",
        JsonTokenType.StartArray => "array",
        JsonTokenType.String => "string",
        JsonTokenType.Number => "number",
        JsonTokenType.True or JsonTokenType.False => "boolean",
        JsonTokenType.Null => "null",
        _ => token.ToString(),
    };

    internal static InvalidFileFormatException Fail(string path, string problem) => new(path, problem);
}
