using static TorchSharp.torch;

namespace PeftSharp.Quantization;

/// <summary>
/// bitsandbytes' 8-bit blockwise quantization (quantize_blockwise): per-block fp32 absmax, each element the index
/// of the nearest value of x/absmax in a 256-entry code. Used for double-quantized 4-bit absmax (blocksize 256)
/// and for 8-bit optimizer states (blocksize 2048, bnb's default).
/// </summary>
public static class Blockwise8Bit
{
    /// <summary>bitsandbytes' default blocksize for quantize_blockwise: 2048 elements per absmax.</summary>
    public const int DefaultBlockSize = 2048;

    /// <summary>Quantizes any float tensor (read as fp32, on the CPU) with bnb's signed dynamic map or the given code.</summary>
    public static unsafe QuantState8Bit Quantize(Tensor input, int blockSize = DefaultBlockSize, IReadOnlyList<float>? code = null)
    {
        BlockSizes.Validate(blockSize);
        code ??= Codebooks.DynamicSigned8Bit;
        if (code.Count != 256) throw new ArgumentException($"an 8-bit code has 256 entries, not {code.Count}", nameof(code));
        var (mids, codeOfSorted) = Codebooks.Buckets(code);
        using var scope = NewDisposeScope();
        var x = input.detach().to(ScalarType.Float32, CPU).contiguous();
        long n = x.numel();
        var absmax = empty(BlockSizes.BlockCount(n, blockSize), ScalarType.Float32);
        var q = empty(input.shape, ScalarType.Byte);
        BlockwiseQuantizeKernels.Quantize8Bit(TensorMemory.Pointer<float>(x, ScalarType.Float32, "input"), n, blockSize, mids, codeOfSorted,
            TensorMemory.Pointer<float>(absmax, ScalarType.Float32, "absmax"), TensorMemory.Pointer<byte>(q, ScalarType.Byte, "codes"));
        return new QuantState8Bit(q.MoveToOuterDisposeScope(), absmax.MoveToOuterDisposeScope(), blockSize, code);
    }

    /// <summary>
    /// code[q] x absmax[block] as fp32 in the original shape, as bnb's dequantize_blockwise; the same as <see
    /// cref="QuantState8Bit.Dequantize"/>.
    /// </summary>
    public static Tensor Dequantize(QuantState8Bit state) => state.Dequantize();
}
