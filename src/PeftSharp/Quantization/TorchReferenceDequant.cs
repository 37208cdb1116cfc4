using static TorchSharp.torch;

namespace PeftSharp.Quantization;

/// <summary>
/// 4-bit dequantization with plain torch ops (unpack nibbles, index_select on the code table, multiply by the
/// repeated absmax). Slow and memory-hungry; the ground truth the kernels are tested and benchmarked against.
/// </summary>
public static class TorchReferenceDequant
{
    /// <summary>The 4-bit codes as int64 [n], first element from each byte's high nibble.</summary>
    public static Tensor UnpackCodes(Tensor packed, long n)
    {
        using var scope = NewDisposeScope();
        var bytes = packed.reshape(-1).to(ScalarType.Int64);
        var codes = stack([bytes.bitwise_right_shift(4), bytes.bitwise_and(15)], 1).reshape(-1);
        return codes.narrow(0, 0, n).MoveToOuterDisposeScope();
    }

    /// <summary>The per-block absmax as fp32: code8[q] * nested_absmax (repeated per 256 blocks) + offset, with DQ.</summary>
    public static Tensor Absmax(QuantState4Bit state)
    {
        using var scope = NewDisposeScope();
        if (state.Absmax is not null) return state.Absmax.clone().MoveToOuterDisposeScope();
        return (Dequantize8Bit(state.Nested!).reshape(-1) + state.NestedOffset).MoveToOuterDisposeScope();
    }

    /// <summary>An 8-bit blockwise state as fp32 in its shape: code[q] * absmax (repeated per block), on its device.</summary>
    public static Tensor Dequantize8Bit(QuantState8Bit state)
    {
        using var scope = NewDisposeScope();
        var q = state.Quantized;
        var code = tensor(state.Code, device: q.device);
        var values = code.index_select(0, q.reshape(-1).to(ScalarType.Int64));
        var scales = state.Absmax.repeat_interleave(state.BlockSize).narrow(0, 0, q.numel());
        return (values * scales).reshape(q.shape).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The dequantized tensor in its original shape, converted to <paramref name="dtype"/> (default fp32), computed
    /// with torch ops; compare with <see cref="QuantState4Bit.Dequantize"/>.
    /// </summary>
    public static Tensor Dequantize(QuantState4Bit state, ScalarType dtype = ScalarType.Float32)
    {
        using var scope = NewDisposeScope();
        long n = state.NumElements;
        var codes = UnpackCodes(state.Packed, n);
        var values = tensor(state.Code, device: state.Packed.device).index_select(0, codes);
        var scales = Absmax(state).repeat_interleave(state.BlockSize).narrow(0, 0, n);
        return (values * scales).to(dtype).reshape(state.Shape).MoveToOuterDisposeScope();
    }
}
