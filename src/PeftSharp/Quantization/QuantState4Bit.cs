using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Quantization;

/// <summary>
/// A 4-bit (NF4/FP4) blockwise quantized tensor in bitsandbytes' layout: packed uint8 [(n+1)/2, 1] with the first
/// element in the high nibble, fp32 absmax per block, or (double quantization) the absmax minus its mean
/// quantized again 8-bit blockwise with blocksize 256. Owns its tensors.
/// </summary>
public sealed partial class QuantState4Bit : IDisposable
{
    /// <summary>
    /// Blocksize of the second (8-bit) quantization of the absmax under double quantization: 256, fixed by
    /// bitsandbytes.
    /// </summary>
    public const int NestedBlockSize = 256;

    /// <summary>Without double quantization.</summary>
    public QuantState4Bit(QuantType quantType, int blockSize, long[] shape, ScalarType dtype, Tensor packed, Tensor absmax, IReadOnlyList<float>? code = null)
        : this(quantType, blockSize, shape, dtype, packed, code)
    {
        Absmax = absmax;
    }

    /// <summary>With double quantization: absmax = nested.Dequantize() + offset.</summary>
    public QuantState4Bit(QuantType quantType, int blockSize, long[] shape, ScalarType dtype, Tensor packed, QuantState8Bit nested, float offset, IReadOnlyList<float>? code = null)
        : this(quantType, blockSize, shape, dtype, packed, code)
    {
        Nested = nested;
        NestedOffset = offset;
    }

    QuantState4Bit(QuantType quantType, int blockSize, long[] shape, ScalarType dtype, Tensor packed, IReadOnlyList<float>? code)
    {
        BlockSizes.Validate(blockSize);
        code ??= Codebooks.For(quantType);
        if (code.Count != 16) throw new ArgumentException($"a 4-bit code has 16 entries, not {code.Count}", nameof(code));
        QuantType = quantType;
        BlockSize = blockSize;
        Shape = [.. shape];
        DType = dtype;
        Packed = packed;
        Code = [.. code];
    }

    /// <summary>The 4-bit data type (NF4 or FP4), as bnb's quant_type.</summary>
    public QuantType QuantType { get; }
    /// <summary>Elements per absmax block (bnb's blocksize), a power of two from 32 to 4096.</summary>
    public int BlockSize { get; }
    /// <summary>The original tensor's shape.</summary>
    public long[] Shape { get; }
    /// <summary>The original tensor's dtype (bnb records it; dequantization may pick another).</summary>
    public ScalarType DType { get; }
    /// <summary>uint8 [(n+1)/2, 1].</summary>
    public Tensor Packed { get; }
    /// <summary>fp32 [blocks]; null when double-quantized.</summary>
    public Tensor? Absmax { get; }
    /// <summary>The 8-bit state of (absmax - offset) when double-quantized.</summary>
    public QuantState8Bit? Nested { get; }
    /// <summary>
    /// The fp32 mean subtracted from the absmax before its 8-bit quantization (bnb's state2 offset); 0 without double
    /// quantization.
    /// </summary>
    public float NestedOffset { get; }
    /// <summary>The 16 code values (the checkpoint's quant_map).</summary>
    public float[] Code { get; }

    /// <summary>Whether the absmax is stored 8-bit (bnb_4bit_use_double_quant) rather than fp32.</summary>
    public bool DoubleQuantized => Nested is not null;
    /// <summary>Elements of the original tensor (the product of <see cref="Shape"/>).</summary>
    public long NumElements => Shape.Aggregate(1L, (a, b) => a * b);
    /// <summary>Number of absmax blocks: ceil(<see cref="NumElements"/> / <see cref="BlockSize"/>).</summary>
    public long Blocks => BlockSizes.BlockCount(NumElements, BlockSize);

    /// <summary>Storage bits per weight: 4 + 32/blocksize, or with DQ 4 + 8/blocksize + 32/(blocksize*256).</summary>
    public double BitsPerParameter => BitsPerParameterFor(BlockSize, DoubleQuantized);

    /// <summary>
    /// Storage bits per weight for a blocksize and double-quantization choice, before quantizing anything (e.g. 4.5 for
    /// 64 without DQ, about 4.127 with DQ).
    /// </summary>
    public static double BitsPerParameterFor(int blockSize, bool doubleQuantized) =>
        doubleQuantized ? 4 + 8.0 / blockSize + 32.0 / (blockSize * (double)NestedBlockSize) : 4 + 32.0 / blockSize;

    /// <summary>The per-block absmax as fp32 [blocks] (reconstructed when double-quantized).</summary>
    public Tensor AbsmaxFp32()
    {
        if (Absmax is not null) return Absmax.alias();
        using var scope = NewDisposeScope();
        return (Nested!.Dequantize() + NestedOffset).MoveToOuterDisposeScope();
    }

    /// <summary>The same quantized tensor with its codes and scales on <paramref name="device"/> (this one unchanged).</summary>
    public QuantState4Bit To(Device device) => Nested is null
        ? new(QuantType, BlockSize, Shape, DType, Packed.to(device), Absmax!.to(device), Code)
        : new(QuantType, BlockSize, Shape, DType, Packed.to(device), Nested.To(device), NestedOffset, Code);

    /// <summary>Where the packed codes live; off the CPU, dequantization runs as torch ops on that device.</summary>
    public bool OnCpu => Packed.device_type == DeviceType.CPU;

    /// <summary>A new tensor of the original shape, fp32 or bf16, filled by the fast kernel (torch ops off the CPU).</summary>
    public Tensor Dequantize(ScalarType dtype = ScalarType.Float32, KernelIsa isa = KernelIsa.Auto)
    {
        if (dtype is not (ScalarType.Float32 or ScalarType.BFloat16))
            throw new ArgumentException($"4-bit dequantization writes Float32 or BFloat16, not {dtype}", nameof(dtype));
        if (!OnCpu) return TorchReferenceDequant.Dequantize(this, dtype);
        var output = empty(Shape, dtype);
        try
        {
            DequantizeInto(output, isa);
        }
        catch
        {
            output.Dispose();
            throw;
        }
        return output;
    }

    /// <summary>Dequantizes into an existing contiguous CPU fp32/bf16 tensor with NumElements elements.</summary>
    public unsafe void DequantizeInto(Tensor output, KernelIsa isa = KernelIsa.Auto)
    {
        if (output.numel() != NumElements)
            throw new ArgumentException($"output has {output.numel()} elements, the quantized tensor {NumElements}", nameof(output));
        bool bf16 = output.dtype == ScalarType.BFloat16;
        void* o = bf16 ? TensorMemory.Pointer<ushort>(output, ScalarType.BFloat16, "output") : TensorMemory.Pointer<float>(output, ScalarType.Float32, "output");
        byte* packed = TensorMemory.Pointer<byte>(Packed, ScalarType.Byte, "packed weight");
        fixed (float* code = Code)
        {
            if (Nested is null)
            {
                var source = new AbsmaxSource(TensorMemory.Pointer<float>(Absmax!, ScalarType.Float32, "absmax"));
                Dequant4BitKernel.Run(packed, NumElements, BlockSize, code, source, o, bf16, isa);
            }
            else
            {
                fixed (float* nestedCode = Nested.Code)
                {
                    var source = new AbsmaxSource(TensorMemory.Pointer<byte>(Nested.Quantized, ScalarType.Byte, "quantized absmax"),
                        TensorMemory.Pointer<float>(Nested.Absmax, ScalarType.Float32, "nested absmax"), nestedCode, Nested.BlockSize, NestedOffset);
                    Dequant4BitKernel.Run(packed, NumElements, BlockSize, code, source, o, bf16, isa);
                }
            }
        }
    }

    /// <summary>Releases the packed weight, the absmax and the nested state.</summary>
    public void Dispose()
    {
        Packed.Dispose();
        Absmax?.Dispose();
        Nested?.Dispose();
    }
}
