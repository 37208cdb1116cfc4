using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Quantization;

/// <summary>
/// An 8-bit blockwise quantized tensor: one uint8 index per element into a 256-entry code (bnb's signed dynamic
/// map by default) and one fp32 absmax per block. Owns its tensors.
/// </summary>
public sealed class QuantState8Bit : IDisposable
{
    /// <summary>Takes ownership of the indices and the absmax.</summary>
    /// <param name="quantized">uint8 indices into <paramref name="code"/>, one per element, in the original
    /// shape.</param>
    /// <param name="absmax">fp32 [blocks].</param>
    /// <param name="blockSize">Elements per absmax, a power of two from 32 to 4096.</param>
    /// <param name="code">The 256 code values (copied).</param>
    /// <exception cref="ConfigurationException"><paramref name="blockSize"/> is not supported.</exception>
    /// <exception cref="ArgumentException"><paramref name="code"/> does not have 256 entries.</exception>
    public QuantState8Bit(Tensor quantized, Tensor absmax, int blockSize, IReadOnlyList<float> code)
    {
        BlockSizes.Validate(blockSize);
        if (code.Count != 256) throw new ArgumentException($"an 8-bit code has 256 entries, not {code.Count}", nameof(code));
        Quantized = quantized;
        Absmax = absmax;
        BlockSize = blockSize;
        Code = [.. code];
    }

    /// <summary>uint8 indices, the shape of the original tensor.</summary>
    public Tensor Quantized { get; }
    /// <summary>fp32 [blocks].</summary>
    public Tensor Absmax { get; }
    /// <summary>Elements per absmax block (bnb's blocksize).</summary>
    public int BlockSize { get; }
    /// <summary>
    /// The 256 values an index maps to (bnb's code / quant_map), each in [-1, 1], scaled by the block's absmax.
    /// </summary>
    public float[] Code { get; }
    /// <summary>Elements of the original tensor.</summary>
    public long NumElements => Quantized.numel();

    /// <summary>The same quantized tensor on <paramref name="device"/> (this one unchanged).</summary>
    public QuantState8Bit To(Device device) => new(Quantized.to(device), Absmax.to(device), BlockSize, Code);

    /// <summary>code[q] * absmax[block] as fp32, the original shape (torch ops off the CPU).</summary>
    public unsafe Tensor Dequantize()
    {
        if (Quantized.device_type != DeviceType.CPU) return TorchReferenceDequant.Dequantize8Bit(this);
        using var scope = NewDisposeScope();
        var q = Quantized.contiguous();
        var a = Absmax.contiguous();
        var output = empty(Quantized.shape, ScalarType.Float32);
        BlockwiseQuantizeKernels.Dequantize8Bit(
            TensorMemory.Pointer<byte>(q, ScalarType.Byte, "8-bit codes"), q.numel(), BlockSize, Code,
            TensorMemory.Pointer<float>(a, ScalarType.Float32, "8-bit absmax"), TensorMemory.Pointer<float>(output, ScalarType.Float32, "output"));
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>Releases the indices and the absmax.</summary>
    public void Dispose()
    {
        Quantized.Dispose();
        Absmax.Dispose();
    }
}
