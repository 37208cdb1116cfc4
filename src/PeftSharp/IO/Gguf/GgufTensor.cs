namespace PeftSharp.IO.Gguf;

/// <summary>
/// A tensor to write: its name, torch shape (outermost first; the file stores the reverse, ggml's innermost-first
/// order), type, and a function that produces its bytes when the writer reaches it, so only one tensor's bytes exist
/// at a time.
/// </summary>
/// <param name="Name">The GGUF tensor name (e.g. "blk.0.attn_q.weight"); at most 64 bytes of UTF-8.</param>
/// <param name="Shape">Torch order, outermost first.</param>
/// <param name="Type">How the bytes are encoded.</param>
/// <param name="Data">Produces exactly <see cref="GgufTensorTypes.ByteCount"/> bytes.</param>
public sealed record GgufTensor(string Name, long[] Shape, GgufTensorType Type, Func<byte[]> Data)
{
    /// <summary>The byte size in the file (before alignment padding).</summary>
    public long ByteCount => GgufTensorTypes.ByteCount(Type, Shape);
}
