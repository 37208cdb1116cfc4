using TorchSharp;

namespace PeftSharp.IO;

/// <summary>Element types of checkpoint files, named as safetensors names them.</summary>
public enum TensorDType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL }

/// <summary>What a checkpoint says about one tensor before it is read.</summary>
public sealed record TensorInfo(string Name, TensorDType DType, long[] Shape, long ByteLength);

/// <summary>
/// A read-only set of named tensors (one safetensors file, a sharded checkpoint, a llama2.c file...).
/// Tensors are read one at a time so a loader never holds more than it needs.
/// </summary>
public interface ITensorSource : IDisposable
{
    IReadOnlyCollection<string> Keys { get; }
    bool Contains(string key);
    TensorInfo GetInfo(string key);
    /// <summary>The tensor as stored, or cast to <paramref name="dtype"/>. The result is owned by the caller.</summary>
    torch.Tensor Load(string key, torch.ScalarType? dtype = null);
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
