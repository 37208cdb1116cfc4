using System.Text;

namespace PeftSharp.IO.Gguf;

/// <summary>
/// Writes GGUF version 3 files as ggml's docs/gguf.md specifies, little-endian: magic "GGUF", version, tensor and
/// key/value counts (uint64), the key/values, the tensor infos (name, dims innermost first, ggml type, offset relative
/// to the data section), zero padding to general.alignment, then each tensor's bytes padded to the alignment. The file
/// is written through <see cref="AtomicFile"/> and tensors are produced and written one at a time.
/// </summary>
public static class GgufWriter
{
    /// <summary>"GGUF" read as a little-endian uint32.</summary>
    public const uint Magic = 0x46554747;
    /// <summary>The format version written.</summary>
    public const uint Version = 3;
    /// <summary>general.alignment's default, which this writer always records explicitly.</summary>
    public const uint DefaultAlignment = 32;
    /// <summary>llama.cpp's GGML_MAX_NAME: tensor names longer than this (with the terminator) do not load.</summary>
    public const int MaxTensorNameBytes = 63;

    /// <summary>Writes <paramref name="tensors"/> with <paramref name="metadata"/> (general.alignment is added when absent) to <paramref name="path"/>.</summary>
    /// <exception cref="ArgumentException">A tensor name is too long or repeated, a tensor's bytes have the wrong length, or
    /// general.alignment is not a UINT32 power of two.</exception>
    public static void Write(string path, GgufMetadata metadata, IReadOnlyList<GgufTensor> tensors)
    {
        // The caller's metadata is left as given; the written entries gain general.alignment when it is absent.
        var entries = metadata.Contains("general.alignment") ? metadata.Entries
            : [.. metadata.Entries, KeyValuePair.Create("general.alignment", new GgufValue(GgufValueType.UInt32, DefaultAlignment))];
        var alignValue = entries.First(e => e.Key == "general.alignment").Value;
        if (alignValue.Value is not uint alignment || alignment == 0 || (alignment & (alignment - 1)) != 0)
            throw new ArgumentException("general.alignment must be a UINT32 power of two", nameof(metadata));
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in tensors)
        {
            if (Encoding.UTF8.GetByteCount(t.Name) > MaxTensorNameBytes) throw new ArgumentException($"tensor name '{t.Name}' is longer than {MaxTensorNameBytes} bytes", nameof(tensors));
            if (!names.Add(t.Name)) throw new ArgumentException($"tensor '{t.Name}' appears twice", nameof(tensors));
        }
        AtomicFile.Write(path, stream =>
        {
            using var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
            w.Write(Magic);
            w.Write(Version);
            w.Write((ulong)tensors.Count);
            w.Write((ulong)entries.Count);
            foreach (var (key, value) in entries)
            {
                WriteString(w, key);
                w.Write((uint)value.Type);
                WriteValue(w, value);
            }
            long offset = 0;
            foreach (var t in tensors)
            {
                WriteString(w, t.Name);
                w.Write((uint)t.Shape.Length);
                for (int i = t.Shape.Length - 1; i >= 0; i--) w.Write((ulong)t.Shape[i]);   // ggml order: innermost first
                w.Write((uint)t.Type);
                w.Write((ulong)offset);
                offset = Align(offset + t.ByteCount, alignment);
            }
            Pad(w, alignment);
            foreach (var t in tensors)
            {
                var bytes = t.Data();
                if (bytes.LongLength != t.ByteCount)
                    throw new ArgumentException($"tensor '{t.Name}' produced {bytes.LongLength} bytes, expected {t.ByteCount} for {t.Type} [{string.Join(", ", t.Shape)}]", nameof(tensors));
                w.Write(bytes);
                Pad(w, alignment);
            }
        });
    }

    static long Align(long offset, uint alignment) => (offset + alignment - 1) / alignment * alignment;

    static void Pad(BinaryWriter w, uint alignment)
    {
        w.Flush();
        long position = w.BaseStream.Position;
        w.Write(new byte[Align(position, alignment) - position]);
    }

    static void WriteString(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    static void WriteValue(BinaryWriter w, GgufValue value)
    {
        if (value.Type != GgufValueType.Array)
        {
            WriteScalar(w, value.Type, value.Value);
            return;
        }
        var element = value.ElementType ?? throw new ArgumentException("an array value needs its element type", nameof(value));
        var items = (Array)value.Value;
        w.Write((uint)element);
        w.Write((ulong)items.Length);
        foreach (var item in items) WriteScalar(w, element, item!);
    }

    // BinaryWriter is little-endian on every platform, as GGUF requires.
    static void WriteScalar(BinaryWriter w, GgufValueType type, object v)
    {
        switch (type)
        {
            case GgufValueType.UInt8: w.Write(Convert.ToByte(v)); break;
            case GgufValueType.Int8: w.Write(Convert.ToSByte(v)); break;
            case GgufValueType.UInt16: w.Write(Convert.ToUInt16(v)); break;
            case GgufValueType.Int16: w.Write(Convert.ToInt16(v)); break;
            case GgufValueType.UInt32: w.Write(Convert.ToUInt32(v)); break;
            case GgufValueType.Int32: w.Write(Convert.ToInt32(v)); break;
            case GgufValueType.Float32: w.Write(Convert.ToSingle(v)); break;
            case GgufValueType.Bool: w.Write((byte)((bool)v ? 1 : 0)); break;
            case GgufValueType.String: WriteString(w, (string)v); break;
            case GgufValueType.UInt64: w.Write(Convert.ToUInt64(v)); break;
            case GgufValueType.Int64: w.Write(Convert.ToInt64(v)); break;
            case GgufValueType.Float64: w.Write(Convert.ToDouble(v)); break;
            default: throw new ArgumentException($"a {type} cannot be an array element here", nameof(type));
        }
    }
}
