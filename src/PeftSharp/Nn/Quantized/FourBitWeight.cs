using TorchSharp;
using PeftSharp.Quantization;
using static TorchSharp.torch;

namespace PeftSharp.Nn.Quantized;

/// <summary>A Linear weight in NF4/FP4 (bitsandbytes' Linear4bit storage), dequantized into the compute dtype per matmul.</summary>
public sealed class FourBitWeight : IQuantizedWeight
{
    /// <summary>
    /// The packed 4-bit codes, the per-block absmax (itself 8-bit quantized under double quantization), the codebook
    /// and the shape.
    /// </summary>
    public QuantState4Bit State { get; }
    /// <summary>
    /// The dtype the weight is dequantized into for each matmul (bnb_4bit_compute_dtype: fp32 or bf16); inputs are cast
    /// to it and the result back to the input's dtype.
    /// </summary>
    public ScalarType ComputeDType { get; }

    /// <summary>Wraps an already quantized state, e.g. one read from a bitsandbytes checkpoint.</summary>
    /// <param name="state">The 4-bit state of a 2-D weight.</param>
    /// <param name="computeDType">Dequantization dtype for matmuls.</param>
    /// <exception cref="PeftSharpException">The state's shape is not 2-D.</exception>
    public FourBitWeight(QuantState4Bit state, ScalarType computeDType)
    {
        if (state.Shape.Length != 2) throw new PeftSharpException($"a 4-bit Linear weight must be 2-D, found [{string.Join(", ", state.Shape)}]");
        State = state;
        ComputeDType = computeDType;
    }

    /// <summary>Quantizes a dense [out, in] weight blockwise (bitsandbytes' quantize_4bit).</summary>
    /// <param name="dense">The weight, any float dtype.</param>
    /// <param name="type">NF4 (QLoRA's normal-float codebook) or FP4.</param>
    /// <param name="blockSize">Elements per absmax block (bitsandbytes' blocksize, 64 by default).</param>
    /// <param name="doubleQuant">Quantize the absmax values too (bnb_4bit_use_double_quant), saving about 0.37 bits per parameter.</param>
    /// <param name="computeDType">Dequantization dtype for matmuls.</param>
    public static FourBitWeight Quantize(Tensor dense, QuantType type, int blockSize, bool doubleQuant, ScalarType computeDType) =>
        new(BlockwiseQuantizer.Quantize(dense, type, blockSize, doubleQuant), computeDType);

    /// <inheritdoc/>
    public string Format => State.QuantType.ToBnbName();
    /// <inheritdoc/>
    public long OutFeatures => State.Shape[0];
    /// <inheritdoc/>
    public long InFeatures => State.Shape[1];

    /// <inheritdoc/>
    public long StorageBytes =>
        State.Packed.numel() + (State.Absmax?.numel() * 4 ?? 0)
        + (State.Nested is { } n ? n.Quantized.numel() + n.Absmax.numel() * 4 : 0);

    /// <inheritdoc/>
    public Tensor Dequantize(ScalarType dtype)
    {
        if (dtype is ScalarType.Float32 or ScalarType.BFloat16) return State.Dequantize(dtype);
        using var w = State.Dequantize(ScalarType.Float32);
        return w.to(dtype);
    }

    /// <summary>
    /// x Ŵᵀ in <see cref="ComputeDType"/>, returned in x's dtype. Without autograd the dense weight goes to a
    /// per-thread scratch buffer (no allocation per call).
    /// </summary>
    public Tensor Matmul(Tensor x)
    {
        using var scope = NewDisposeScope();
        // Autograd may keep the weight it multiplies by: a scratch buffer would be overwritten under it.
        // Autograd would keep a widened (fp32) weight: only the scratch path widens a bf16 GEMM (see WideGemm).
        bool recorded = is_grad_enabled() && x.requires_grad;
        var compute = recorded ? ComputeDType : WideGemm.For(x, ComputeDType);
        var w = recorded ? Dequantize(compute) : DequantizeToScratch(compute);
        return nn.functional.linear(x.to(compute), w).to(x.dtype).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public Tensor InputGradient(Tensor grad)
    {
        using var scope = NewDisposeScope();
        var compute = WideGemm.For(grad, ComputeDType);
        return grad.to(compute).matmul(DequantizeToScratch(compute)).to(grad.dtype).MoveToOuterDisposeScope();
    }

    [ThreadStatic] static Tensor? scratch;

    /// <summary>
    /// The dense weight in a per-thread buffer reused by every layer (<see cref="ThreadScratch"/>): dequantizing a layer
    /// then costs no allocation. Valid until the next call on this thread.
    /// </summary>
    Tensor DequantizeToScratch(ScalarType dtype)
    {
        if (dtype is not (ScalarType.Float32 or ScalarType.BFloat16) || !State.OnCpu) return Dequantize(dtype);
        var view = ThreadScratch.View(ref scratch, State.Shape, dtype);
        State.DequantizeInto(view);
        return view;
    }

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, Tensor> CheckpointTensors() => State.ToBnbTensors();

    /// <inheritdoc/>
    public void DetachFromDisposeScopes()
    {
        State.Packed.DetachFromDisposeScope();
        State.Absmax?.DetachFromDisposeScope();
        State.Nested?.Quantized.DetachFromDisposeScope();
        State.Nested?.Absmax.DetachFromDisposeScope();
    }

    /// <inheritdoc/>
    public IQuantizedWeight Requantize(Tensor dense) =>
        Quantize(dense, State.QuantType, State.BlockSize, State.DoubleQuantized, ComputeDType);

    /// <inheritdoc/>
    public Device Device => State.Packed.device;

    /// <inheritdoc/>
    public IQuantizedWeight To(Device device) => new FourBitWeight(State.To(device), ComputeDType);

    /// <summary>Frees the packed codes and the (nested) absmax tensors.</summary>
    public void Dispose() => State.Dispose();
}

/// <summary>A Linear weight in LLM.int8 (bitsandbytes' Linear8bitLt storage); matmuls split off outlier input columns.</summary>
public sealed class EightBitWeight : IQuantizedWeight
{
    /// <summary>
    /// The int8 codes (CB, [out, in]) and per-row scales (SCB, [out] fp32), as bitsandbytes stores them.
    /// </summary>
    public Int8Weight Weight { get; }
    /// <summary>
    /// LLM.int8's outlier threshold (llm_int8_threshold, default 6.0): input columns with any |x| above it are
    /// multiplied in floating point, the rest in int8. 0 disables the split.
    /// </summary>
    public double Threshold { get; }

    /// <summary>Wraps int8 codes and scales.</summary>
    /// <param name="weight">The quantized weight.</param>
    /// <param name="threshold">The outlier threshold, see <see cref="Threshold"/>.</param>
    public EightBitWeight(Int8Weight weight, double threshold)
    {
        Weight = weight;
        Threshold = threshold;
    }

    /// <inheritdoc/>
    public string Format => "int8";
    /// <inheritdoc/>
    public long OutFeatures => Weight.OutFeatures;
    /// <inheritdoc/>
    public long InFeatures => Weight.InFeatures;
    /// <inheritdoc/>
    public long StorageBytes => Weight.CB.numel() + Weight.SCB.numel() * 4;

    /// <inheritdoc/>
    public Tensor Dequantize(ScalarType dtype)
    {
        using var w = Weight.Dequantize();
        return w.to(dtype);
    }

    /// <summary>
    /// LLM.int8's product on the CPU (exact int8 accumulation with the outlier split); on another device the weight is
    /// dequantized and multiplied in x's dtype (the same function up to int8 rounding of x, which that path skips).
    /// </summary>
    public Tensor Matmul(Tensor x)
    {
        if (Weight.CB.device_type == DeviceType.CPU) return Int8Quantizer.Int8Matmul(x, Weight, Threshold);
        using var w = Dequantize(x.dtype);
        return nn.functional.linear(x, w);
    }

    /// <inheritdoc/>
    public Tensor InputGradient(Tensor grad)
    {
        using var w = Dequantize(grad.dtype);
        return grad.matmul(w);
    }

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, Tensor> CheckpointTensors() => Weight.ToBnbTensors();

    /// <inheritdoc/>
    public void DetachFromDisposeScopes()
    {
        Weight.CB.DetachFromDisposeScope();
        Weight.SCB.DetachFromDisposeScope();
    }

    /// <inheritdoc/>
    public IQuantizedWeight Requantize(Tensor dense) => new EightBitWeight(Int8Quantizer.Quantize(dense), Threshold);

    /// <inheritdoc/>
    public Device Device => Weight.CB.device;

    /// <inheritdoc/>
    public IQuantizedWeight To(Device device) => new EightBitWeight(new Int8Weight(Weight.CB.to(device), Weight.SCB.to(device)), Threshold);

    /// <summary>Frees the int8 codes and the scales.</summary>
    public void Dispose() => Weight.Dispose();
}
