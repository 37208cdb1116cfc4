using static TorchSharp.torch;

namespace PeftSharp.Quantization;

/// <summary>
/// bitsandbytes quantize_4bit: per-block fp32 absmax, x / absmax to the nearest NF4/FP4 code (ties to the upper
/// code), packed two per byte; optionally double quantization of the absmax (mean offset, then 8-bit blockwise
/// with blocksize 256 and the signed dynamic map).
/// </summary>
public static class BlockwiseQuantizer
{
    /// <summary>
    /// The QLoRA default blocksize, 64 elements per absmax (as transformers' BitsAndBytesConfig for 4-bit).
    /// </summary>
    public const int DefaultBlockSize = 64;

    /// <summary>
    /// Quantizes <paramref name="input"/> (any float dtype, read as fp32 on the CPU) to 4 bits, as bnb's
    /// </summary>
    /// <c>quantize_4bit</c>; the state records the input's shape and dtype.
    /// <param name="input">The tensor to quantize, typically a Linear weight [out, in]; not modified.</param>
    /// <param name="quantType">NF4 (default, QLoRA's bnb_4bit_quant_type="nf4") or FP4.</param>
    /// <param name="blockSize">Elements per absmax block, a power of two from 32 to 4096; default 64.</param>
    /// <param name="doubleQuant">Quantize the absmax values again (bnb_4bit_use_double_quant), saving about 0.37 bits
    /// per weight at blocksize 64; default false.</param>
    /// <returns>A new state owning its tensors; the caller disposes it.</returns>
    /// <exception cref="ConfigurationException"><paramref name="blockSize"/> is not supported.</exception>
    public static unsafe QuantState4Bit Quantize(Tensor input, QuantType quantType = QuantType.Nf4, int blockSize = DefaultBlockSize, bool doubleQuant = false)
    {
        BlockSizes.Validate(blockSize);
        var code = Codebooks.For(quantType);
        var (mids, codeOfSorted) = Codebooks.Buckets(code);
        using var scope = NewDisposeScope();
        var x = input.detach().to(ScalarType.Float32, CPU).contiguous();
        long n = x.numel();
        long blocks = BlockSizes.BlockCount(n, blockSize);
        var absmax = empty(blocks, ScalarType.Float32);
        var packed = empty([(n + 1) / 2, 1], ScalarType.Byte);
        BlockwiseQuantizeKernels.Quantize4Bit(TensorMemory.Pointer<float>(x, ScalarType.Float32, "input"), n, blockSize, mids, codeOfSorted,
            TensorMemory.Pointer<float>(absmax, ScalarType.Float32, "absmax"), TensorMemory.Pointer<byte>(packed, ScalarType.Byte, "packed"));
        var dtype = input.dtype;
        if (!doubleQuant)
            return new QuantState4Bit(quantType, blockSize, input.shape, dtype, packed.MoveToOuterDisposeScope(), absmax.MoveToOuterDisposeScope(), code);
        // bnb: offset = absmax.mean() (float32), then quantize_blockwise(absmax - offset, blocksize=256).
        float offset = blocks == 0 ? 0f : absmax.mean().item<float>();
        var nested = Blockwise8Bit.Quantize(absmax - offset, QuantState4Bit.NestedBlockSize);
        nested.Quantized.MoveToOuterDisposeScope();
        nested.Absmax.MoveToOuterDisposeScope();
        return new QuantState4Bit(quantType, blockSize, input.shape, dtype, packed.MoveToOuterDisposeScope(), nested, offset, code);
    }
}
