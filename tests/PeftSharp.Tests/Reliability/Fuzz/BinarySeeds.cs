using System.Buffers.Binary;
using System.Text;
using Parquet;
using Parquet.Schema;
using PeftSharp.Tests.Audio;

namespace PeftSharp.Tests.Reliability.Fuzz;

/// <summary>Small, valid binary seed files: safetensors, llama2.c checkpoints and tokenizers, WAV, Parquet.</summary>
internal static class BinarySeeds
{
    // ---- safetensors ----

    /// <summary>A safetensors file: 8-byte little-endian header length, JSON header padded with spaces to 8 bytes, data.</summary>
    public static byte[] SafeTensors(string header, byte[] data)
    {
        var json = Encoding.UTF8.GetBytes(header);
        return IO.SafeTensorsFormatTests.Assemble([.. json, .. Enumerable.Repeat((byte)' ', (8 - json.Length % 8) % 8)], data);
    }

    /// <summary>The header text and the data section of a well-formed safetensors file.</summary>
    public static (string Header, byte[] Data) SplitSafeTensors(byte[] file)
    {
        int length = (int)BinaryPrimitives.ReadUInt64LittleEndian(file);
        return (Encoding.UTF8.GetString(file, 8, length).TrimEnd(' '), file[(8 + length)..]);
    }

    private static byte[] SafeTensorsOf(params (string Name, string DType, long[] Shape)[] tensors)
    {
        var header = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\"}");
        var data = new List<byte>();
        var rng = new Random(7);
        foreach (var (name, dtype, shape) in tensors)
        {
            int size = dtype switch { "F64" or "I64" => 8, "F32" or "I32" => 4, "F16" or "BF16" or "I16" => 2, _ => 1 };
            long bytes = shape.Aggregate(1L, (a, b) => a * b) * size;
            header.Append($",\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{string.Join(",", shape)}],\"data_offsets\":[{data.Count},{data.Count + bytes}]}}");
            for (long i = 0; i < bytes; i++)
                data.Add(dtype == "BOOL" ? (byte)rng.Next(2) : size >= 2 && i % size == size - 1 ? (byte)(0x3C + rng.Next(4)) : (byte)rng.Next(256));
        }
        header.Append('}');
        return SafeTensors(header.ToString(), [.. data]);
    }

    public static readonly byte[][] SafeTensorsFiles =
    [
        SafeTensorsOf(
            ("model.embed_tokens.weight", "F32", [4, 3]),
            ("model.layers.0.self_attn.q_proj.weight", "BF16", [3, 3]),
            ("model.norm.weight", "F16", [3]),
            ("lm_head.weight", "F64", [2, 3]),
            ("position_ids", "I64", [1, 4]),
            ("attention_mask", "BOOL", [4]),
            ("codes", "U8", [5]),
            ("signed", "I8", [3]),
            ("shorts", "I16", [2]),
            ("ints", "I32", [2]),
            ("empty", "F32", [0, 3]),
            ("scalar", "F32", [])),
        SafeTensorsOf(
            ("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", "F32", [2, 8]),
            ("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", "F32", [8, 2]),
            ("base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight", "BF16", [2, 8]),
            ("base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight", "BF16", [8, 2])),
    ];

    // ---- llama2.c ----

    /// <summary>A llama2.c version-0 checkpoint: 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab (negative: untied), seq_len), then fp32 weights.</summary>
    public static byte[] LlamaCCheckpoint(int dim, int hidden, int layers, int heads, int kvHeads, int vocab, int seqLen)
    {
        int v = Math.Abs(vocab), headDim = dim / heads, kv = kvHeads * headDim;
        long floats = (long)v * dim + layers * (2L * dim + (long)dim * dim * 2 + 2L * kv * dim + 3L * hidden * dim)
            + dim + (long)seqLen * headDim + (vocab < 0 ? (long)v * dim : 0);
        var bytes = new byte[28 + floats * 4];
        int[] header = [dim, hidden, layers, heads, kvHeads, vocab, seqLen];
        for (int i = 0; i < 7; i++) BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(i * 4), header[i]);
        var rng = new Random(11);
        for (long i = 0; i < floats; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan((int)(28 + i * 4)), (float)(rng.NextDouble() - 0.5));
        return bytes;
    }

    public static readonly byte[][] LlamaCCheckpoints =
    [
        LlamaCCheckpoint(dim: 8, hidden: 16, layers: 1, heads: 2, kvHeads: 1, vocab: 12, seqLen: 4),
        LlamaCCheckpoint(dim: 8, hidden: 12, layers: 2, heads: 2, kvHeads: 2, vocab: -10, seqLen: 2),
    ];

    /// <summary>llama2.c's tokenizer.bin: int32 max_token_length, then per token float32 score, int32 length, bytes.</summary>
    public static byte[] LlamaCTokenizer(IReadOnlyList<string> extraPieces)
    {
        var pieces = new List<string> { "<unk>", "\n<s>\n", "\n</s>\n" };
        for (int b = 0; b < 256; b++) pieces.Add($"<0x{b:X2}>");
        pieces.AddRange(extraPieces);
        var ms = new MemoryStream();
        var w = new BinaryWriter(ms);
        w.Write(pieces.Max(p => Encoding.UTF8.GetByteCount(p)));
        for (int i = 0; i < pieces.Count; i++)
        {
            var bytes = Encoding.UTF8.GetBytes(pieces[i]);
            w.Write(i < 259 ? 0f : -(float)(i - 259));
            w.Write(bytes.Length);
            w.Write(bytes);
        }
        return ms.ToArray();
    }

    public static readonly byte[][] LlamaCTokenizers =
    [
        LlamaCTokenizer([" ", "e", "t", "h", " t", "he", " the", "o", " o", "n", "on", " on", "ce", " once", "é"]),
        LlamaCTokenizer(["a", "b", "ab", " ab", " "]),
    ];

    // ---- WAV ----

    public static readonly byte[][] WavFiles =
    [
        WavBytes.Wav(WavBytes.Sine(440, 16000, 0.004, 0.5), WavBytes.Pcm, 16000, 16),
        WavBytes.Wav(WavBytes.Sine(440, 44100, 0.001, 0.5, channels: 2), WavBytes.Pcm, 44100, 16),
        WavBytes.Wav(WavBytes.Sine(220, 8000, 0.008, 0.9), WavBytes.Pcm, 8000, 32),
        WavBytes.Wav(WavBytes.Sine(220, 22050, 0.002, 0.7, channels: 2), WavBytes.Float, 22050, 32),
        WavBytes.Wav(WavBytes.Sine(100, 16000, 0.003, 0.3), WavBytes.Float, 16000, 32, extensible: true),
        WavBytes.Riff(
            WavBytes.Chunk("LIST", Encoding.ASCII.GetBytes("INFOISFT\u0005\0\0\0Lavf\0")),
            WavBytes.Chunk("fmt ", WavBytes.Fmt(WavBytes.Pcm, 1, 16000, 16)),
            WavBytes.Chunk("fact", [1, 2, 3]),
            WavBytes.Chunk("data", WavBytes.Encode(WavBytes.Sine(300, 16000, 0.002, 0.4), WavBytes.Pcm, 16))),
    ];

    // ---- Parquet ----

    public static byte[][] ParquetFiles()
    {
        DataField<string> text = new("text"), instruction = new("instruction"), output = new("output");
        DataField<long> label = new("label");
        DataField<double?> score = new("score");
        DataField<bool> ok = new("ok");
        DataField<int> n = new("n");
        return
        [
            Parquet(new ParquetSchema(text, label),
                async g =>
                {
                    await g.WriteAsync(text, ["a great movie", "dull", "é 👋"]);
                    await g.WriteAsync<long>(label, new long[] { 1, 0, 1 });
                },
                async g =>
                {
                    await g.WriteAsync(text, ["fine"]);
                    await g.WriteAsync<long>(label, new long[] { 1 });
                }),
            Parquet(new ParquetSchema(instruction, output, score, ok, n),
                async g =>
                {
                    await g.WriteAsync(instruction, ["Say hi", "Add 2+2"]);
                    await g.WriteAsync(output, ["hi", null!]);
                    await g.WriteAsync<double>(score, new double?[] { 0.5, null });
                    await g.WriteAsync<bool>(ok, new[] { true, false });
                    await g.WriteAsync<int>(n, new[] { 3, -7 });
                }),
        ];
    }

    private static byte[] Parquet(ParquetSchema schema, params Func<ParquetRowGroupWriter, Task>[] rowGroups)
    {
        var ms = new MemoryStream();
        var writer = ParquetWriter.CreateAsync(schema, ms).GetAwaiter().GetResult();
        foreach (var write in rowGroups)
        {
            using var group = writer.CreateRowGroup();
            write(group).GetAwaiter().GetResult();
        }
        writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return ms.ToArray();
    }
}
