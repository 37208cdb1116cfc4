using System.Buffers.Binary;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace PeftSharp.IO.LlamaC;

/// <summary>The 7-int32 header of a llama2.c checkpoint.</summary>
public sealed record LlamaCHeader(int Dim, int HiddenDim, int NumLayers, int NumHeads, int NumKvHeads, int VocabSize, int SeqLen, bool SharedClassifier)
{
    /// <summary>Width of one attention head: Dim / NumHeads.</summary>
    public int HeadDim => Dim / NumHeads;
}

/// <summary>
/// A llama2.c `.bin` checkpoint (header + fp32 weights in llama2.c order) exposed under Hugging Face Llama keys.
/// llama2.c rotates interleaved pairs (x0,x1),(x2,x3)...; HF rotates the two halves of a head. Permuting the
/// rows of q_proj and k_proj within each head (as HF's conversion script does) makes HF's rotation compute the
/// same function, so the imported model is an ordinary HF Llama.
/// </summary>
public sealed class LlamaCCheckpoint : ITensorSource
{
    const int HeaderBytes = 28;
    readonly string path;
    readonly Dictionary<string, (long Offset, long[] StoredShape, Func<Tensor, Tensor>? Transform, long[] Shape)> entries = new();

    /// <summary>
    /// The parsed header: model sizes, and whether the classifier shares the embedding (llama2.c writes a negative vocab size when it does not).
    /// </summary>
    public LlamaCHeader Header { get; }
    /// <inheritdoc/>
    public IReadOnlyCollection<string> Keys => entries.Keys;
    /// <summary>Always { "format": "llama2.c" }: the file carries no metadata.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; } = new Dictionary<string, string> { ["format"] = "llama2.c" };

    LlamaCCheckpoint(string path, LlamaCHeader header)
    {
        this.path = path;
        Header = header;
    }

    /// <summary>
    /// Opens and checks <paramref name="path"/>: a plausible header whose implied size equals the file's. Throws
    /// <see cref="InvalidFileFormatException"/> otherwise, before any tensor is read.
    /// </summary>
    public static LlamaCCheckpoint Open(string path)
    {
        if (!File.Exists(path)) throw new PeftSharpException($"{path} not found");
        long length;
        Span<byte> raw = stackalloc byte[HeaderBytes];
        // The stream's length, not FileInfo's: in a Hugging Face cache snapshot the file is a symlink, and FileInfo
        // describes the link itself.
        using (var fs = File.OpenRead(path))
        {
            length = fs.Length;
            if (length < HeaderBytes) throw new InvalidFileFormatException(path, $"file is {length} bytes, shorter than the 28-byte llama2.c header");
            fs.ReadExactly(raw);
        }
        var h = new int[7];
        for (int i = 0; i < 7; i++) h[i] = BinaryPrimitives.ReadInt32LittleEndian(raw[(i * 4)..]);
        Validate(path, h);
        var header = new LlamaCHeader(h[0], h[1], h[2], h[3], h[4], Math.Abs(h[5]), h[6], h[5] > 0);
        Validate(path, header);
        var ckpt = new LlamaCCheckpoint(path, header);
        // The length check comes before any tensor is registered: a header may claim a million layers in a 1 KB file.
        long expected;
        try { expected = ckpt.Layout(register: false); }
        catch (OverflowException) { expected = long.MaxValue; }
        if (expected != length)
            throw new InvalidFileFormatException(path,
                $"header (dim {header.Dim}, hidden_dim {header.HiddenDim}, n_layers {header.NumLayers}, n_heads {header.NumHeads}, " +
                $"n_kv_heads {header.NumKvHeads}, vocab {header.VocabSize}, seq_len {header.SeqLen}) implies {expected} bytes but the file has {length}: " +
                "not a llama2.c version-0 checkpoint, or truncated");
        ckpt.Layout(register: true);
        return ckpt;
    }

    static void Validate(string path, int[] raw)
    {
        string[] names = { "dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len" };
        for (int i = 0; i < 7; i++)
            if (raw[i] == 0 || (raw[i] < 0 && i != 5) || Math.Abs((long)raw[i]) > 1 << 20)
                throw new InvalidFileFormatException(path, $"header field {names[i]} = {raw[i]} is not a plausible llama2.c value");
    }

    static void Validate(string path, LlamaCHeader c)
    {
        if (c.Dim % c.NumHeads != 0 || c.NumHeads % c.NumKvHeads != 0 || c.HeadDim % 2 != 0)
            throw new InvalidFileFormatException(path, $"header: dim {c.Dim}, n_heads {c.NumHeads}, n_kv_heads {c.NumKvHeads} do not divide into even head sizes");
    }

    /// <summary>
    /// The file length the header implies, registering every tensor's offset in llama2.c's order when
    /// <paramref name="register"/> is set. Checked arithmetic: fields up to 2^20 can imply more than 2^63 bytes.
    /// </summary>
    long Layout(bool register)
    {
        var c = Header;
        long off = HeaderBytes;
        int L = c.NumLayers, d = c.Dim, hd = c.HiddenDim, kv = c.NumKvHeads * c.HeadDim;
        void Stacked(string suffix, long rows, long cols, Func<Tensor, Tensor>? transform = null)
        {
            long bytes = rows * Math.Max(cols, 1) * 4;
            if (!register)
            {
                off = checked(off + L * bytes);
                return;
            }
            for (int l = 0; l < L; l++)
            {
                var shape = cols == 0 ? new[] { rows } : new[] { rows, cols };
                entries[$"model.layers.{l}.{suffix}"] = (off, shape, transform, shape);
                off += bytes;
            }
        }
        if (register) entries["model.embed_tokens.weight"] = (off, new long[] { c.VocabSize, d }, null, new long[] { c.VocabSize, d });
        off = checked(off + (long)c.VocabSize * d * 4);
        Stacked("input_layernorm.weight", d, 0);
        Stacked("self_attn.q_proj.weight", d, d, w => PairsToHalves(w, c.NumHeads));
        Stacked("self_attn.k_proj.weight", kv, d, w => PairsToHalves(w, c.NumKvHeads));
        Stacked("self_attn.v_proj.weight", kv, d);
        Stacked("self_attn.o_proj.weight", d, d);
        Stacked("post_attention_layernorm.weight", d, 0);
        Stacked("mlp.gate_proj.weight", hd, d);
        Stacked("mlp.down_proj.weight", d, hd);
        Stacked("mlp.up_proj.weight", hd, d);
        if (register) entries["model.norm.weight"] = (off, new long[] { d }, null, new long[] { d });
        off = checked(off + d * 4L);
        off = checked(off + (long)c.SeqLen * c.HeadDim * 4); // freq_cis_real and freq_cis_imag (seq_len x head_dim/2 each): recomputed, not read
        if (!c.SharedClassifier)
        {
            if (register) entries["lm_head.weight"] = (off, new long[] { c.VocabSize, d }, null, new long[] { c.VocabSize, d });
            off = checked(off + (long)c.VocabSize * d * 4);
        }
        return off;
    }

    /// <summary>Row permutation from llama2.c's interleaved rotary pairs to HF's rotate-half layout, per head.</summary>
    public static Tensor PairsToHalves(Tensor w, int heads)
    {
        long rows = w.shape[0], cols = w.shape[1];
        return w.view(heads, rows / heads / 2, 2, cols).transpose(1, 2).reshape(rows, cols);
    }

    /// <inheritdoc/>
    public bool Contains(string key) => entries.ContainsKey(key);

    /// <inheritdoc/>
    public TensorInfo GetInfo(string key)
    {
        var e = Entry(key);
        return new TensorInfo(key, TensorDType.F32, e.Shape, e.Shape.Aggregate(1L, (a, b) => a * b) * 4);
    }

    /// <summary>
    /// Reads a tensor (stored fp32) under its HF name, with q_proj/k_proj rows permuted to HF's rotary layout, cast to
    /// <paramref name="dtype"/> when given. Owned by the caller.
    /// </summary>
    /// <exception cref="PeftSharpException">No such key.</exception>
    /// <exception cref="PlatformNotSupportedException">On a big-endian machine.</exception>
    public Tensor Load(string key, ScalarType? dtype = null)
    {
        var e = Entry(key);
        long count = e.StoredShape.Aggregate(1L, (a, b) => a * b);
        var data = new float[count];
        using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            fs.Seek(e.Offset, SeekOrigin.Begin);
            fs.ReadExactly(MemoryMarshal.AsBytes(data.AsSpan()));
        }
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("llama2.c checkpoints are little-endian");
        using var scope = NewDisposeScope();
        var t = tensor(data, e.StoredShape);
        if (e.Transform is not null) t = e.Transform(t);
        if (dtype is { } dt && dt != ScalarType.Float32) t = t.to(dt);
        return t.contiguous().MoveToOuterDisposeScope();
    }

    (long Offset, long[] StoredShape, Func<Tensor, Tensor>? Transform, long[] Shape) Entry(string key) =>
        entries.TryGetValue(key, out var e) ? e : throw new PeftSharpException($"{path}: no tensor '{key}' in this llama2.c checkpoint");

    /// <summary>Nothing to release: every load opens and closes the file itself.</summary>
    public void Dispose() { }
}
