using PeftSharp.IO;
using static TorchSharp.torch;

namespace PeftSharp.Nn.Quantized;

/// <summary>Turns dense Linear weights into quantized ones while a model loads, or reads ones already quantized.</summary>
public interface IWeightQuantizer
{
    /// <summary>Whether the Linear at <paramref name="linearPath"/> should be quantized (e.g. not the output head).</summary>
    bool Quantizes(string linearPath);

    IQuantizedWeight Quantize(Tensor dense);

    /// <summary>The checkpoint keys of a Linear stored pre-quantized (bitsandbytes layout), or null if it is stored dense.</summary>
    IReadOnlyList<string>? PrequantizedKeys(ITensorSource source, string linearPath);

    IQuantizedWeight LoadPrequantized(ITensorSource source, string linearPath);
}
