using PeftSharp.IO;
using static TorchSharp.torch;

namespace PeftSharp.Nn.Quantized;

/// <summary>Turns dense Linear weights into quantized ones while a model loads, or reads ones already quantized.</summary>
public interface IWeightQuantizer
{
    /// <summary>Whether the Linear at <paramref name="linearPath"/> should be quantized (e.g. not the output head).</summary>
    bool Quantizes(string linearPath);

    /// <summary>
    /// Quantizes a dense [out, in] Linear weight; the caller still owns (and disposes) <paramref name="dense"/>.
    /// </summary>
    IQuantizedWeight Quantize(Tensor dense);

    /// <summary>The checkpoint keys of a Linear stored pre-quantized (bitsandbytes layout), or null if it is stored dense.</summary>
    IReadOnlyList<string>? PrequantizedKeys(ITensorSource source, string linearPath);

    /// <summary>
    /// Reads a Linear stored pre-quantized (the keys <see cref="PrequantizedKeys"/> names) into a quantized weight.
    /// </summary>
    /// <param name="source">The checkpoint.</param>
    /// <param name="linearPath">The Linear's module path, e.g. "model.layers.0.self_attn.q_proj".</param>
    /// <exception cref="PeftSharpException">The Linear is not stored quantized, or its tensors are inconsistent.</exception>
    IQuantizedWeight LoadPrequantized(ITensorSource source, string linearPath);
}
