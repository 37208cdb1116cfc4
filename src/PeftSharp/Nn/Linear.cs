using TorchSharp;
using TorchSharp.Modules;
using PeftSharp.Nn.Quantized;
using static TorchSharp.torch;

namespace PeftSharp.Nn;

/// <summary>
/// y = x W^T + b with checkpoint-named parameters (`weight`, `bias`). Parameters start uninitialised (empty):
/// models are built to be loaded, and initialising billions of weights only to overwrite them costs seconds.
/// </summary>
public sealed class Linear : nn.Module<Tensor, Tensor>, IAdapterHost
{
    /// <summary>Input width (the weight's second dimension).</summary>
    public int InFeatures { get; }
    /// <summary>Output width (the weight's first dimension).</summary>
    public int OutFeatures { get; }
    /// <summary>
    /// The dense base weight [OutFeatures, InFeatures] (checkpoint key suffix "weight"); an empty placeholder when
    /// <see cref="Quantized"/> is set.
    /// </summary>
    public Parameter weight;
    /// <summary>The bias [OutFeatures], or null for bias-free layers (Llama's projections).</summary>
    public Parameter? bias;

    /// <summary>
    /// A layer with an uninitialised weight (torch.empty) and, when <paramref name="hasBias"/>, a zero bias.
    /// </summary>
    /// <param name="inFeatures">Input width.</param>
    /// <param name="outFeatures">Output width.</param>
    /// <param name="hasBias">Whether the layer has a bias; default false.</param>
    /// <param name="dtype">Parameter dtype; default fp32 (models usually pass bf16).</param>
    public Linear(int inFeatures, int outFeatures, bool hasBias = false, ScalarType dtype = ScalarType.Float32)
        : base(nameof(Linear))
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        weight = new Parameter(empty(outFeatures, inFeatures, dtype: dtype));
        bias = hasBias ? new Parameter(zeros(outFeatures, dtype: dtype)) : null;
        RegisterComponents();
    }

    /// <summary>A Linear over existing parameters, e.g. an output head tied to the embedding table.</summary>
    public Linear(Parameter sharedWeight, Parameter? sharedBias = null) : base(nameof(Linear))
    {
        OutFeatures = (int)sharedWeight.shape[0];
        InFeatures = (int)sharedWeight.shape[1];
        weight = sharedWeight;
        bias = sharedBias;
        RegisterComponents();
    }

    /// <summary>Adapters attached to this layer (LoRA, DoRA, ...), applied after the base in attach order.</summary>
    public AdapterSet<ILinearAdapter> Adapters { get; } = new();
    IAdapterSwitches IAdapterHost.Switches => Adapters;

    /// <summary>The compact base weight when this layer is quantized (then <see cref="weight"/> is an empty placeholder).</summary>
    public IQuantizedWeight? Quantized { get; private set; }

    /// <summary>Replaces the dense base weight by a quantized one and frees the dense storage.</summary>
    public void SetQuantized(IQuantizedWeight quantized)
    {
        if (quantized.OutFeatures != OutFeatures || quantized.InFeatures != InFeatures)
            throw new PeftSharpException($"quantized weight is [{quantized.OutFeatures}, {quantized.InFeatures}] but the layer is [{OutFeatures}, {InFeatures}]");
        if (weight.device_type != DeviceType.CPU && quantized.Device.type != weight.device_type)
        {
            // Quantizers run on the CPU (SIMD kernels); the state then lives where the layer computes.
            var moved = quantized.To(weight.device);
            quantized.Dispose();
            quantized = moved;
        }
        quantized.DetachFromDisposeScopes();
        if (!ReferenceEquals(Quantized, quantized)) Quantized?.Dispose();
        Quantized = quantized;
        using (no_grad()) weight.set_(empty(0, dtype: weight.dtype, device: weight.device));
        weight.requires_grad = false;
    }

    /// <summary>The base weight as a dense [out, in] tensor in <paramref name="dtype"/> (dequantized if quantized).</summary>
    public Tensor DenseWeight(ScalarType dtype) => Quantized?.Dequantize(dtype) ?? weight.detach().to(dtype);

    /// <summary>
    /// Sets the base weight to <paramref name="dense"/> (any float dtype). A quantized layer re-quantizes, which rounds
    /// the change to the format's levels (as PEFT warns when merging into a 4-bit base).
    /// </summary>
    public void AssignWeight(Tensor dense)
    {
        using var _ = no_grad();
        if (Quantized is { } q) SetQuantized(q.Requantize(dense));
        else weight.copy_(dense);
    }

    /// <summary>The frozen base function, without adapters.</summary>
    public Tensor BaseForward(Tensor x)
    {
        if (Quantized is { } q) return QuantizedLinearFunction.Apply(x, bias, q);
        // Where autograd records nothing (evaluation, generation's prefill) a bf16 GEMM may run widened (WideGemm).
        bool recorded = is_grad_enabled() && (x.requires_grad || weight.requires_grad || bias is { requires_grad: true });
        var gemm = recorded || x.dtype != weight.dtype ? weight.dtype : WideGemm.For(x, weight.dtype);
        if (gemm == weight.dtype) return nn.functional.linear(x, weight, bias);
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        return nn.functional.linear(x.to(gemm), WideGemm.Weight(weight, gemm), bias?.to(gemm)).to(x.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// x W^T + b with no autograd node of its own, for fused functions that own their backward. A quantized weight is
    /// dequantized here; with <paramref name="keepWeight"/> a 4-bit weight's dense copy comes back in
    /// <paramref name="keptWeight"/> instead of being freed (int8 keeps its outlier-split matmul and returns none).
    /// </summary>
    public Tensor BaseOutputNoGrad(Tensor x, bool keepWeight, out Tensor? keptWeight)
    {
        using var _ = no_grad();
        keptWeight = null;
        if (Quantized is not { } q) return nn.functional.linear(x, WideGemm.Weight(weight, x.dtype), bias?.to(x.dtype));
        if (!keepWeight || q.Format == "int8") return bias is null ? q.Matmul(x) : q.Matmul(x).add_(bias.to(x.dtype));
        keptWeight = q.Dequantize(x.dtype);
        return nn.functional.linear(x, keptWeight, bias?.to(x.dtype));
    }

    /// <summary>
    /// dL/dx of the base function for output gradient <paramref name="grad"/>: grad · W in grad's dtype (W dequantized
    /// again if quantized, or widened in a scratch buffer when grad is wider than W).
    /// </summary>
    public Tensor BaseInputGradient(Tensor grad) =>
        Quantized is { } q ? q.InputGradient(grad) : grad.matmul(WideGemm.Weight(weight, grad.dtype));

    /// <summary>
    /// The base output with the running adapters applied in attach order; when exactly one adapter runs and it offers a
    /// fused forward, that is used instead.
    /// </summary>
    /// <param name="x">Input [.., InFeatures].</param>
    /// <returns>Output [.., OutFeatures].</returns>
    public override Tensor forward(Tensor x)
    {
        if (Adapters.SingleRunning() is { } only && only.FusedForward(x, this) is { } fused) return fused;
        Tensor? result = null;
        foreach (var a in Adapters.Running())
        {
            if (result is null && !a.ReplacesBase) result = BaseForward(x);
            result = a.Apply(x, result!, this);
        }
        return result ?? BaseForward(x);
    }
}
