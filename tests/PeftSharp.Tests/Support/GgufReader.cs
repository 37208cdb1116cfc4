using System.Text;
using PeftSharp.IO.Gguf;

namespace PeftSharp.Tests.Support;

/// <summary>
/// A GGUF v3 reader written from ggml's docs/gguf.md for tests only: header, typed metadata (arrays included), tensor
/// infos and raw tensor bytes, with dequantization of F32/F16/BF16/Q8_0 to float32.
/// </summary>
public sealed class GgufFile
{
    public sealed record TensorInfo(string Name, long[] Dims, GgufTensorType Type, ulong Offset, byte[] Bytes)
    {
        /// <summary>Torch order (outermost first): the reverse of ggml's dims.</summary>
        public long[] Shape => Dims.Reverse().ToArray();
    }

    public uint Version { get; private init; }
    public Dictionary<string, (GgufValueType Type, object Value)> Metadata { get; } = new(StringComparer.Ordinal);
    public List<string> KeyOrder { get; } = [];
    public Dictionary<string, TensorInfo> Tensors { get; } = new(StringComparer.Ordinal);
    public List<string> TensorOrder { get; } = [];
    public long DataStart { get; private init; }

    public object this[string key] => Metadata[key].Value;

    /// <summary>
    /// Asserts the llama-arch hyperparameters llama.cpp sizes the model from (one comparison, so a failure lists every
    /// key with its expected and written value).
    /// </summary>
    public void AssertLlamaShape(uint embedding, uint blocks, uint heads, uint kvHeads, uint feedForward, uint context, uint ropeDims, float rmsEps)
    {
        var keys = new[]
        {
            "llama.embedding_length", "llama.block_count", "llama.attention.head_count", "llama.attention.head_count_kv",
            "llama.feed_forward_length", "llama.context_length", "llama.rope.dimension_count", "llama.attention.layer_norm_rms_epsilon",
        };
        var expected = new object[] { embedding, blocks, heads, kvHeads, feedForward, context, ropeDims, rmsEps };
        static string Show(string key, object v) => $"{key} = {v} ({v.GetType().Name})"; // the GGUF type matters as much as the value
        Assert.Equal(keys.Zip(expected, Show), keys.Select(k => Metadata.TryGetValue(k, out var m) ? Show(k, m.Value) : $"{k} missing"));
    }

    public static GgufFile Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        using var r = new BinaryReader(new MemoryStream(bytes));
        if (r.ReadUInt32() != 0x46554747) throw new InvalidDataException("bad magic");
        uint version = r.ReadUInt32();
        ulong tensorCount = r.ReadUInt64(), kvCount = r.ReadUInt64();
        var meta = new Dictionary<string, (GgufValueType, object)>(StringComparer.Ordinal);
        var order = new List<string>();
        for (ulong i = 0; i < kvCount; i++)
        {
            var key = Str(r);
            var type = (GgufValueType)r.ReadUInt32();
            if (!meta.TryAdd(key, (type, Value(r, type)))) throw new InvalidDataException($"duplicate key {key}");
            order.Add(key);
        }
        var infos = new List<(string, long[], GgufTensorType, ulong)>();
        for (ulong i = 0; i < tensorCount; i++)
        {
            var name = Str(r);
            uint nd = r.ReadUInt32();
            var dims = Enumerable.Range(0, (int)nd).Select(_ => (long)r.ReadUInt64()).ToArray();
            infos.Add((name, dims, (GgufTensorType)r.ReadUInt32(), r.ReadUInt64()));
        }
        uint alignment = meta.TryGetValue("general.alignment", out var a) ? (uint)a.Item2 : 32u;
        long dataStart = (r.BaseStream.Position + alignment - 1) / alignment * alignment;
        var file = new GgufFile { Version = version, DataStart = dataStart };
        foreach (var k in order) { file.Metadata[k] = meta[k]; file.KeyOrder.Add(k); }
        foreach (var (name, dims, type, offset) in infos)
        {
            if (offset % alignment != 0) throw new InvalidDataException($"{name}: offset {offset} not aligned");
            long size = GgufTensorTypes.ByteCount(type, dims.Reverse().ToArray());
            var data = bytes.AsSpan((int)(dataStart + (long)offset), (int)size).ToArray();
            file.Tensors[name] = new TensorInfo(name, dims, type, offset, data);
            file.TensorOrder.Add(name);
        }
        return file;
    }

    static string Str(BinaryReader r) => Encoding.UTF8.GetString(r.ReadBytes(checked((int)r.ReadUInt64())));

    static object Value(BinaryReader r, GgufValueType t) => t switch
    {
        GgufValueType.UInt8 => r.ReadByte(),
        GgufValueType.Int8 => r.ReadSByte(),
        GgufValueType.UInt16 => r.ReadUInt16(),
        GgufValueType.Int16 => r.ReadInt16(),
        GgufValueType.UInt32 => r.ReadUInt32(),
        GgufValueType.Int32 => r.ReadInt32(),
        GgufValueType.Float32 => r.ReadSingle(),
        GgufValueType.Bool => r.ReadByte() switch { 0 => false, 1 => true, var b => throw new InvalidDataException($"bool byte {b}") },
        GgufValueType.String => Str(r),
        GgufValueType.UInt64 => r.ReadUInt64(),
        GgufValueType.Int64 => r.ReadInt64(),
        GgufValueType.Float64 => r.ReadDouble(),
        GgufValueType.Array => ReadArray(r),
        _ => throw new InvalidDataException($"unknown value type {t}"),
    };

    static object ReadArray(BinaryReader r)
    {
        var element = (GgufValueType)r.ReadUInt32();
        ulong n = r.ReadUInt64();
        var items = new List<object>();
        for (ulong i = 0; i < n; i++) items.Add(Value(r, element));
        return items;
    }

    public List<T> Array<T>(string key) => ((List<object>)this[key]).Cast<T>().ToList();

    /// <summary>The tensor's values as float32 in torch shape.</summary>
    public Tensor Float(string name)
    {
        var t = Tensors[name];
        float[] values = t.Type switch
        {
            GgufTensorType.F32 => Enumerable.Range(0, t.Bytes.Length / 4).Select(i => BitConverter.ToSingle(t.Bytes, 4 * i)).ToArray(),
            GgufTensorType.F16 => Enumerable.Range(0, t.Bytes.Length / 2).Select(i => (float)BitConverter.ToHalf(t.Bytes, 2 * i)).ToArray(),
            GgufTensorType.BF16 => Enumerable.Range(0, t.Bytes.Length / 2).Select(i => BitConverter.Int32BitsToSingle(BitConverter.ToUInt16(t.Bytes, 2 * i) << 16)).ToArray(),
            GgufTensorType.Q8_0 => DequantQ8(t.Bytes),
            _ => throw new InvalidDataException($"type {t.Type}"),
        };
        return tensor(values, t.Shape);
    }

    static float[] DequantQ8(byte[] bytes)
    {
        var values = new float[bytes.Length / 34 * 32];
        for (int b = 0; b < bytes.Length / 34; b++)
        {
            float d = (float)BitConverter.ToHalf(bytes, 34 * b);
            for (int j = 0; j < 32; j++) values[32 * b + j] = d * (sbyte)bytes[34 * b + 2 + j];
        }
        return values;
    }
}
