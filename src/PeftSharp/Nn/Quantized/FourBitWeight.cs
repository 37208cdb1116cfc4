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
        var w = Dequantize(ComputeDType);
        return nn.functional.linear(x.to(ComputeDType), w).to(x.dtype).MoveToOuterDisposeScope();
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

    public IReadOnlyDictionary<string, Tensor> CheckpointTensors() => Weight.ToBnbTensors();

    public void DetachFromDisposeScopes()
    {
        Weight.CB.DetachFromDisposeScope();
        Weight.SCB.DetachFromDisposeScope();
    }

    public IQuantizedWeight Requantize(Tensor dense) => new EightBitWeight(Int8Quantizer.Quantize(dense), Threshold);

    public void Dispose() => Weight.Dispose();
}
