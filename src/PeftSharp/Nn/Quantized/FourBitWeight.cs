using PeftSharp.Quantization;
using static TorchSharp.torch;

namespace PeftSharp.Nn.Quantized;

/// <summary>A Linear weight in NF4/FP4 (bitsandbytes' Linear4bit storage), dequantized into the compute dtype per matmul.</summary>
public sealed class FourBitWeight : IQuantizedWeight
{
    public QuantState4Bit State { get; }
    public ScalarType ComputeDType { get; }

    public FourBitWeight(QuantState4Bit state, ScalarType computeDType)
    {
        if (state.Shape.Length != 2) throw new PeftSharpException($"a 4-bit Linear weight must be 2-D, found [{string.Join(", ", state.Shape)}]");
        State = state;
        ComputeDType = computeDType;
    }

    public static FourBitWeight Quantize(Tensor dense, QuantType type, int blockSize, bool doubleQuant, ScalarType computeDType) =>
        new(BlockwiseQuantizer.Quantize(dense, type, blockSize, doubleQuant), computeDType);

    public string Format => State.QuantType.ToBnbName();
    public long OutFeatures => State.Shape[0];
    public long InFeatures => State.Shape[1];

    public long StorageBytes =>
        State.Packed.numel() + (State.Absmax?.numel() * 4 ?? 0)
        + (State.Nested is { } n ? n.Quantized.numel() + n.Absmax.numel() * 4 : 0);

    public Tensor Dequantize(ScalarType dtype)
    {
        if (dtype is ScalarType.Float32 or ScalarType.BFloat16) return State.Dequantize(dtype);
        using var w = State.Dequantize(ScalarType.Float32);
        return w.to(dtype);
    }

    public Tensor Matmul(Tensor x)
    {
        using var scope = NewDisposeScope();
        // Autograd may keep the weight it multiplies by: a scratch buffer would be overwritten under it.
        var w = is_grad_enabled() && x.requires_grad ? Dequantize(ComputeDType) : DequantizeToScratch(ComputeDType);
        return nn.functional.linear(x.to(ComputeDType), w).to(x.dtype).MoveToOuterDisposeScope();
    }

    public Tensor InputGradient(Tensor grad)
    {
        using var scope = NewDisposeScope();
        return grad.to(ComputeDType).matmul(DequantizeToScratch(ComputeDType)).to(grad.dtype).MoveToOuterDisposeScope();
    }

    [ThreadStatic] static Tensor? scratch;

    /// <summary>
    /// The dense weight in a per-thread buffer reused by every layer: dequantizing a layer then costs no allocation
    /// (a fresh multi-MB tensor per matmul means page faults and zero-filling on every call). Valid until the next
    /// call on this thread; only for products computed at once and not recorded by autograd.
    /// </summary>
    Tensor DequantizeToScratch(ScalarType dtype)
    {
        if (dtype is not (ScalarType.Float32 or ScalarType.BFloat16)) return Dequantize(dtype);
        long n = State.NumElements;
        if (scratch is null || scratch.dtype != dtype || scratch.numel() < n)
        {
            scratch?.Dispose();
            scratch = empty(n, dtype).DetachFromDisposeScope();
        }
        var view = scratch.narrow(0, 0, n).view(State.Shape);
        State.DequantizeInto(view);
        return view;
    }

    public IReadOnlyDictionary<string, Tensor> CheckpointTensors() => State.ToBnbTensors();

    public void DetachFromDisposeScopes()
    {
        State.Packed.DetachFromDisposeScope();
        State.Absmax?.DetachFromDisposeScope();
        State.Nested?.Quantized.DetachFromDisposeScope();
        State.Nested?.Absmax.DetachFromDisposeScope();
    }

    public IQuantizedWeight Requantize(Tensor dense) =>
        Quantize(dense, State.QuantType, State.BlockSize, State.DoubleQuantized, ComputeDType);

    public void Dispose() => State.Dispose();
}

/// <summary>A Linear weight in LLM.int8 (bitsandbytes' Linear8bitLt storage); matmuls split off outlier input columns.</summary>
public sealed class EightBitWeight : IQuantizedWeight
{
    public Int8Weight Weight { get; }
    public double Threshold { get; }

    public EightBitWeight(Int8Weight weight, double threshold)
    {
        Weight = weight;
        Threshold = threshold;
    }

    public string Format => "int8";
    public long OutFeatures => Weight.OutFeatures;
    public long InFeatures => Weight.InFeatures;
    public long StorageBytes => Weight.CB.numel() + Weight.SCB.numel() * 4;

    public Tensor Dequantize(ScalarType dtype)
    {
        using var w = Weight.Dequantize();
        return w.to(dtype);
    }

    public Tensor Matmul(Tensor x) => Int8Quantizer.Int8Matmul(x, Weight, Threshold);

    public Tensor InputGradient(Tensor grad)
    {
        using var w = Dequantize(grad.dtype);
        return grad.matmul(w);
    }

    public IReadOnlyDictionary<string, Tensor> CheckpointTensors() => Weight.ToBnbTensors();

    public void DetachFromDisposeScopes()
    {
        Weight.CB.DetachFromDisposeScope();
        Weight.SCB.DetachFromDisposeScope();
    }

    public IQuantizedWeight Requantize(Tensor dense) => new EightBitWeight(Int8Quantizer.Quantize(dense), Threshold);

    public void Dispose() => Weight.Dispose();
}
