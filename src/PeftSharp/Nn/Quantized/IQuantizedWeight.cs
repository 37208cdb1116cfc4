using static TorchSharp.torch;

namespace PeftSharp.Nn.Quantized;

/// <summary>
/// A frozen Linear weight stored compactly (NF4/FP4, int8). It never holds a dense copy: it dequantizes on demand,
/// in the forward pass and again in the backward pass, so a 4-bit model stays 4-bit while training adapters on it.
/// </summary>
public interface IQuantizedWeight : IDisposable
{
    /// <summary>"nf4", "fp4" or "int8".</summary>
    string Format { get; }
    /// <summary>Rows of the dense weight: the Linear's output width.</summary>
    long OutFeatures { get; }
    /// <summary>Columns of the dense weight: the Linear's input width.</summary>
    long InFeatures { get; }
    /// <summary>Bytes of every tensor this weight keeps (packed codes, scales, nested scales).</summary>
    long StorageBytes { get; }

    /// <summary>The dense [out, in] weight in <paramref name="dtype"/> (a new tensor owned by the caller).</summary>
    Tensor Dequantize(ScalarType dtype);

    /// <summary>x W^T for x [..., in], computed the format's way (int8 uses the LLM.int8 outlier split). No bias.</summary>
    Tensor Matmul(Tensor x);

    /// <summary>grad W for grad [..., out]: the input gradient of x Wᵀ, the weight dequantized again (never kept).</summary>
    Tensor InputGradient(Tensor grad);

    /// <summary>The tensors bitsandbytes writes for this weight, keyed relative to the Linear (e.g. "weight", "weight.absmax").</summary>
    IReadOnlyDictionary<string, Tensor> CheckpointTensors();

    /// <summary>Takes every tensor of this weight out of any dispose scope: a layer's weight lives as long as the layer.</summary>
    void DetachFromDisposeScopes();

    /// <summary>The same format and settings applied to a new dense weight (used to merge adapters into a quantized base).</summary>
    IQuantizedWeight Requantize(Tensor dense);
    /// <summary>The device the quantized tensors live on.</summary>
    Device Device { get; }
    /// <summary>
    /// A copy whose tensors live on <paramref name="device"/> (this one is unchanged); off the CPU, dequantization uses
    /// torch ops instead of the SIMD kernels.
    /// </summary>
    IQuantizedWeight To(Device device);
}
