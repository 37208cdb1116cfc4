using TorchSharp;
using PeftSharp.Quantization;
using static TorchSharp.torch;

namespace PeftSharp.Training.Optimization;

/// <summary>
/// One Adam moment stored blockwise 8-bit (uint8 codes, the parameter's shape, plus one fp32 absmax per block) on the
/// host, where the quantization kernels run. Each step decodes it to fp32, and the caller re-encodes the updated
/// values with <see cref="Store"/>.
/// </summary>
internal sealed class QuantizedMoment : IDisposable
{
    readonly IReadOnlyList<float> code;
    readonly int blockSize;
    QuantState8Bit state;

    public QuantizedMoment(long[] shape, IReadOnlyList<float> code, int blockSize)
    {
        this.code = code;
        this.blockSize = blockSize;
        // All-zero start without running the quantizer: every element the code of 0.0, every absmax 0.
        int zeroCode = IndexOfZero(code);
        long n = shape.Aggregate(1L, (a, b) => a * b);
        var q = full(shape, zeroCode, ScalarType.Byte).DetachFromDisposeScope();
        var absmax = zeros((n + blockSize - 1) / blockSize, ScalarType.Float32).DetachFromDisposeScope();
        state = new QuantState8Bit(q, absmax, blockSize, code);
    }

    public Tensor Codes => state.Quantized;
    public Tensor Absmax => state.Absmax;

    /// <summary>fp32 values on <paramref name="device"/>, owned by the current dispose scope.</summary>
    public Tensor Load(Device device) => state.Dequantize().to(device);

    /// <summary>Re-encodes <paramref name="values"/> (any device) and replaces the stored codes.</summary>
    public void Store(Tensor values)
    {
        // The codes live in host memory (the SIMD quantizer's side); a GPU step hands its values back here.
        var next = Blockwise8Bit.Quantize(values.device_type == DeviceType.CPU ? values : values.to(CPU), blockSize, code);
        // Quantize hands its tensors to the caller's (step) scope; the state outlives the step.
        next.Quantized.DetachFromDisposeScope();
        next.Absmax.DetachFromDisposeScope();
        state.Dispose();
        state = next;
    }

    static int IndexOfZero(IReadOnlyList<float> code)
    {
        for (int i = 0; i < code.Count; i++)
            if (code[i] == 0f) return i;
        throw new ArgumentException("an optimizer state code needs an exact 0", nameof(code));
    }

    public void Dispose() => state.Dispose();
}
