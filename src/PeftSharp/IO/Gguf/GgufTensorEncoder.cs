using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace PeftSharp.IO.Gguf;

/// <summary>Turns a torch tensor into the bytes of a GGUF tensor type.</summary>
public static class GgufTensorEncoder
{
    /// <summary>
    /// The bytes of <paramref name="t"/> (any float dtype) in <paramref name="type"/>: F32/F16/BF16 converted by torch
    /// (round to nearest even, as numpy's astype in gguf-py), Q8_0 by <see cref="Q8_0"/> from float32 values.
    /// </summary>
    public static byte[] Encode(Tensor t, GgufTensorType type)
    {
        using var scope = NewDisposeScope();
        var target = type switch
        {
            GgufTensorType.F32 or GgufTensorType.Q8_0 => ScalarType.Float32,
            GgufTensorType.F16 => ScalarType.Float16,
            GgufTensorType.BF16 => ScalarType.BFloat16,
            _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
        };
        var converted = t.detach().to(target).contiguous().cpu();
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("GGUF is little-endian; this writer copies native bytes");
        var bytes = converted.bytes;
        return type == GgufTensorType.Q8_0 ? Q8_0.Quantize(MemoryMarshal.Cast<byte, float>(bytes)) : bytes.ToArray();
    }

    /// <summary>A <see cref="GgufTensor"/> whose bytes are encoded from the tensor <paramref name="produce"/> returns when the writer reaches it (the tensor, and every tensor made while producing it, is disposed after encoding: return a copy or <c>detach()</c> alias, never a live parameter object).</summary>
    public static GgufTensor Lazy(string name, long[] shape, GgufTensorType type, Func<Tensor> produce) =>
        new(name, shape, type, () =>
        {
            // The scope frees the tensor and whatever producing it made (permuted or rescaled copies).
            using var scope = NewDisposeScope();
            return Encode(produce(), type);
        });
}
