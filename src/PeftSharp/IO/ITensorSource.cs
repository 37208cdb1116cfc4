using TorchSharp;

namespace PeftSharp.IO;

/// <summary>Element types of checkpoint files, named as safetensors names them.</summary>
public enum TensorDType
{
    /// <summary>64-bit IEEE float (torch.float64).</summary>
    F64,
    /// <summary>32-bit IEEE float (torch.float32).</summary>
    F32,
    /// <summary>16-bit IEEE half float (torch.float16).</summary>
    F16,
    /// <summary>bfloat16: float32's exponent with a 7-bit mantissa (torch.bfloat16); how most LLM checkpoints are stored.</summary>
    BF16,
    /// <summary>64-bit signed integer (torch.int64).</summary>
    I64,
    /// <summary>32-bit signed integer (torch.int32).</summary>
    I32,
    /// <summary>16-bit signed integer (torch.int16).</summary>
    I16,
    /// <summary>8-bit signed integer (torch.int8), e.g. LLM.int8 weights.</summary>
    I8,
    /// <summary>8-bit unsigned integer (torch.uint8), e.g. packed NF4/FP4 weights of bitsandbytes checkpoints.</summary>
    U8,
    /// <summary>Boolean, one byte per element (torch.bool).</summary>
    BOOL,
}

/// <summary>What a checkpoint says about one tensor before it is read.</summary>
public sealed record TensorInfo(string Name, TensorDType DType, long[] Shape, long ByteLength);

/// <summary>
/// A read-only set of named tensors (one safetensors file, a sharded checkpoint, a llama2.c file...).
/// Tensors are read one at a time so a loader never holds more than it needs.
/// </summary>
public interface ITensorSource : IDisposable
{
    /// <summary>
    /// The tensor names (for HF checkpoints, the state_dict keys such as "model.layers.0.self_attn.q_proj.weight").
    /// </summary>
    IReadOnlyCollection<string> Keys { get; }
    /// <summary>True when the source holds a tensor named <paramref name="key"/>.</summary>
    bool Contains(string key);
    /// <summary>
    /// The dtype, shape and byte length of <paramref name="key"/>, read from the header without loading the data.
    /// </summary>
    /// <exception cref="TensorNotFoundException">No such tensor (implementations may throw its base, <see cref="PeftSharpException"/>).</exception>
    TensorInfo GetInfo(string key);
    /// <summary>The tensor as stored, or cast to <paramref name="dtype"/>. The result is owned by the caller.</summary>
    torch.Tensor Load(string key, torch.ScalarType? dtype = null);
    /// <summary>
    /// Free-form string metadata of the checkpoint (safetensors' "__metadata__", e.g. "format": "pt"); empty when there
    /// is none.
    /// </summary>
    IReadOnlyDictionary<string, string> Metadata { get; }
}

/// <summary>
/// A source that can hand out tensors backed directly by the file's memory mapping (zero-copy, copy-on-write),
/// so a loaded model shares its pages with the OS page cache instead of holding a private copy.
/// </summary>
public interface IMappedTensorSource : ITensorSource
{
    /// <summary>The stored tensor over mapped memory (a copy where the data is misaligned). Owned by the caller.</summary>
    torch.Tensor LoadMapped(string key);
}
