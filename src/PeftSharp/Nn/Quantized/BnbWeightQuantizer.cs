using PeftSharp.IO;
using PeftSharp.Quantization;
using static TorchSharp.torch;

namespace PeftSharp.Nn.Quantized;

/// <summary>
/// Quantizes Linear weights as a <see cref="QuantizationConfig"/> says while a model loads, and reads Linear weights a
/// checkpoint already stores in bitsandbytes' layout (4-bit: weight + weight.absmax + weight.quant_map [+ nested] +
/// weight.quant_state.bitsandbytes__nf4|fp4; 8-bit: weight (int8) + SCB [+ weight_format]).
/// </summary>
public sealed class BnbWeightQuantizer : IWeightQuantizer
{
    readonly QuantizationConfig config;
    readonly ScalarType computeDType;

    /// <summary>
    /// A quantizer for <paramref name="config"/> (validated here); the 4-bit compute dtype is bf16 when
    /// bnb_4bit_compute_dtype is "bfloat16", else fp32.
    /// </summary>
    /// <exception cref="ConfigurationException">The config is invalid (see <see cref="QuantizationConfig.Validate"/>).</exception>
    public BnbWeightQuantizer(QuantizationConfig config)
    {
        this.config = config.Validate();
        computeDType = config.Bnb4BitComputeDtype == "bfloat16" ? ScalarType.BFloat16 : ScalarType.Float32;
    }

    /// <inheritdoc/>
    public bool Quantizes(string linearPath) => config.Quantizes(linearPath);

    /// <summary>
    /// Quantizes a dense [out, in] weight: LLM.int8 (row-wise absmax int8) when load_in_8bit, else NF4/FP4 blockwise
    /// with the configured block size and double quantization.
    /// </summary>
    public IQuantizedWeight Quantize(Tensor dense)
    {
        if (config.LoadIn8Bit) return new EightBitWeight(Int8Quantizer.Quantize(dense), config.LlmInt8Threshold);
        var type = config.Bnb4BitQuantType == "nf4" ? QuantType.Nf4 : QuantType.Fp4;
        return FourBitWeight.Quantize(dense, type, config.Bnb4BitBlockSize, config.Bnb4BitUseDoubleQuant, computeDType);
    }

    static readonly string[] FourBitKeys = { "weight", "weight.absmax", "weight.quant_map", "weight.nested_absmax", "weight.nested_quant_map" };
    static readonly string[] EightBitKeys = { "weight", "SCB", Int8Weight.WeightFormatKey };

    /// <inheritdoc/>
    public IReadOnlyList<string>? PrequantizedKeys(ITensorSource source, string linearPath)
    {
        var p = linearPath + ".";
        foreach (var t in new[] { "nf4", "fp4" })
            if (source.Contains(p + QuantState4Bit.StateKeyPrefix + t))
                return FourBitKeys.Append(QuantState4Bit.StateKeyPrefix + t).Select(k => p + k).Where(source.Contains).ToList();
        if (source.Contains(p + "SCB"))
            return EightBitKeys.Select(k => p + k).Where(source.Contains).ToList();
        return null;
    }

    /// <inheritdoc/>
    public IQuantizedWeight LoadPrequantized(ITensorSource source, string linearPath)
    {
        var keys = PrequantizedKeys(source, linearPath) ?? throw new PeftSharpException($"'{linearPath}' is not stored quantized");
        var tensors = new Dictionary<string, Tensor>();
        try
        {
            foreach (var k in keys) tensors[k[(linearPath.Length + 1)..]] = source.Load(k);
            var where = $"checkpoint tensors of '{linearPath}'";
            return tensors.ContainsKey("SCB")
                ? new EightBitWeight(Int8Weight.FromBnbTensors(tensors, where), config.LlmInt8Threshold)
                : new FourBitWeight(QuantState4Bit.FromBnbTensors(tensors, where), computeDType);
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }
}
