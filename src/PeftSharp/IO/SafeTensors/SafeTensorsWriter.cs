using System.Buffers;
using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;
using TorchSharp;

namespace PeftSharp.IO.SafeTensors;

/// <summary>
/// Writes safetensors files as the Python reference does: an 8-byte little-endian header length, a compact JSON
/// header (tensors sorted by name, "__metadata__" first) padded with spaces to a multiple of 8 bytes so the data
/// section starts 8-aligned, then the tensors' bytes back to back in header order. Tensor bytes are streamed
/// from each tensor's (CPU, contiguous) storage to the file; the file appears atomically (temp file + rename).
/// </summary>
public static unsafe class SafeTensorsWriter
{
    // Stream.Write takes int-sized spans; larger tensors go out in pieces.
    private const int MaxChunk = 1 << 30;

    /// <summary>
    /// Writes <paramref name="tensors"/> to one safetensors file at <paramref name="path"/>, atomically.
    /// </summary>
    /// <param name="path">The file to write; replaced if it exists.</param>
    /// <param name="tensors">Name and CPU tensor pairs; enumerated once, before the file is touched. Names must be unique and non-empty.</param>
    /// <param name="metadata">Written as "__metadata__" (string to string); null or empty: none.</param>
    /// <exception cref="PeftSharpException">A name is empty, repeated or "__metadata__", or a dtype safetensors cannot store (see <see cref="TensorDTypes.SupportedNames"/>).</exception>
    public static void Write(string path, IEnumerable<KeyValuePair<string, torch.Tensor>> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var plan = Plan(tensors, path);
        byte[] header = BuildHeader(plan, metadata);
        AtomicFile.Write(path, stream =>
        {
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
            stream.Write(prefix);
            stream.Write(header);
            foreach (var item in plan)
                WriteTensorBytes(stream, item.Tensor, item.ByteLength, item.Key, path);
        });
    }

    /// <summary>Bytes a tensor takes in a safetensors data section.</summary>
    public static long ByteLength(torch.Tensor tensor)
    {
        var dtype = TensorDTypes.FromScalarType(tensor.dtype)
            ?? throw new PeftSharpException($"safetensors cannot store dtype {tensor.dtype}; "
                + $"convert the tensor to one of {TensorDTypes.SupportedNames} first");
        return checked(tensor.NumberOfElements * dtype.ElementSize());
    }

    internal sealed record PlannedTensor(string Key, torch.Tensor Tensor, TensorDType DType, long[] Shape, long ByteLength);

    private static List<PlannedTensor> Plan(IEnumerable<KeyValuePair<string, torch.Tensor>> tensors, string path)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var plan = new List<PlannedTensor>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (key, tensor) in tensors) // fully enumerated before the file is touched
        {
            if (string.IsNullOrEmpty(key))
                throw new PeftSharpException($"{path}: tensor names must be non-empty");
            if (key == SafeTensorsHeader.MetadataKey)
                throw new PeftSharpException($"{path}: '{key}' is reserved for file metadata; pass it as metadata instead");
            if (!seen.Add(key))
                throw new PeftSharpException($"{path}: tensor '{key}' is given twice; names must be unique");
            ArgumentNullException.ThrowIfNull(tensor, key);
            var dtype = TensorDTypes.FromScalarType(tensor.dtype)
                ?? throw new PeftSharpException($"{path}: tensor '{key}' has dtype {tensor.dtype}, which safetensors "
                    + $"cannot store; convert it to one of {TensorDTypes.SupportedNames}");
            plan.Add(new PlannedTensor(key, tensor, dtype, tensor.shape, ByteLength(tensor)));
        }
        plan.Sort((a, b) => CompareCodePoints(a.Key, b.Key));
        return plan;
    }

    private static byte[] BuildHeader(List<PlannedTensor> plan, IReadOnlyDictionary<string, string>? metadata)
    {
        var buffer = new ArrayBufferWriter<byte>();
        // Relaxed escaping keeps names readable ("+", non-ASCII) as serde_json writes them.
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(SafeTensorsHeader.MetadataKey);
                foreach (var (name, value) in metadata.OrderBy(p => p.Key, Comparer<string>.Create(CompareCodePoints)))
                    json.WriteString(name, value);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var item in plan)
            {
                json.WriteStartObject(item.Key);
                json.WriteString("dtype", item.DType.ToName());
                json.WriteStartArray("shape");
                foreach (long dim in item.Shape) json.WriteNumberValue(dim);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                offset += item.ByteLength;
                json.WriteNumberValue(offset);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        int padded = (buffer.WrittenCount + 7) / 8 * 8;
        byte[] header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(buffer.WrittenCount).Fill((byte)' ');
        return header;
    }

    private static void WriteTensorBytes(FileStream stream, torch.Tensor tensor, long byteLength, string key, string path)
    {
        if (byteLength == 0) return;
        using var scope = torch.NewDisposeScope();
        // detach() gives a fresh handle the scope may dispose; cpu()/contiguous() copy only when needed.
        var source = tensor.detach().cpu().contiguous();
        if (source.NumberOfElements * source.ElementSize != byteLength)
            throw new PeftSharpException($"{path}: tensor '{key}' changed size while it was being written");
        byte* data = (byte*)TorchNative.THSTensor_data(source.Handle);
        for (long done = 0; done < byteLength;)
        {
            int chunk = (int)Math.Min(MaxChunk, byteLength - done);
            stream.Write(new ReadOnlySpan<byte>(data + done, chunk));
            done += chunk;
        }
    }

    /// <summary>Unicode code point order, which equals the UTF-8 byte order Python's sorted keys use.</summary>
    internal static int CompareCodePoints(string? a, string? b)
    {
        if (ReferenceEquals(a, b)) return 0;
        if (a is null) return -1;
        if (b is null) return 1;
        var left = a.EnumerateRunes();
        var right = b.EnumerateRunes();
        while (true)
        {
            bool hasLeft = left.MoveNext(), hasRight = right.MoveNext();
            if (!hasLeft || !hasRight) return hasLeft ? 1 : hasRight ? -1 : 0;
            int c = left.Current.Value.CompareTo(right.Current.Value);
            if (c != 0) return c;
        }
    }
}
