using static TorchSharp.torch;

namespace PeftSharp.Quantization;

/// <summary>
/// An LLM.int8 weight: CB = round(W * 127 / SCB) as int8 [out, in], SCB = max|W| per output row as fp32 [out].
/// Serialized as bnb's Int8Params: weight (int8), SCB (fp32), weight_format (uint8 scalar, 0 = row-major).
/// Owns its tensors.
/// </summary>
public sealed class Int8Weight : IDisposable
{
    /// <summary>Takes ownership of the quantized weight and its row scales.</summary>
    /// <param name="cb">CB: int8 [out, in].</param>
    /// <param name="scb">SCB: fp32 [out], each row's absmax.</param>
    /// <exception cref="ArgumentException">A dtype or shape is not the one described.</exception>
    public Int8Weight(Tensor cb, Tensor scb)
    {
        if (cb.dtype != ScalarType.Int8 || cb.dim() != 2) throw new ArgumentException($"CB must be int8 [out, in], is {cb.dtype} [{string.Join(", ", cb.shape)}]", nameof(cb));
        if (scb.dtype != ScalarType.Float32 || scb.dim() != 1 || scb.shape[0] != cb.shape[0])
            throw new ArgumentException($"SCB must be fp32 [{cb.shape[0]}], is {scb.dtype} [{string.Join(", ", scb.shape)}]", nameof(scb));
        CB = cb;
        SCB = scb;
    }

    /// <summary>int8 [out, in].</summary>
    public Tensor CB { get; }
    /// <summary>fp32 [out]: each row's absmax.</summary>
    public Tensor SCB { get; }
    /// <summary>Rows of the weight: the layer's output features.</summary>
    public long OutFeatures => CB.shape[0];
    /// <summary>Columns of the weight: the layer's input features.</summary>
    public long InFeatures => CB.shape[1];

    /// <summary>W ≈ CB * SCB / 127 as fp32 [out, in].</summary>
    public Tensor Dequantize()
    {
        using var scope = NewDisposeScope();
        return (CB.to(ScalarType.Float32) * (SCB / 127f).unsqueeze(1)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Key suffix of bnb's weight_format tensor (a uint8 scalar; only 0, row-major, is read or written).
    /// </summary>
    public const string WeightFormatKey = "weight_format";

    /// <summary>New handles the caller disposes: weight, SCB, weight_format.</summary>
    public Dictionary<string, Tensor> ToBnbTensors()
    {
        using var scope = NewDisposeScope();
        var result = new Dictionary<string, Tensor>
        {
            ["weight"] = CB.alias(),
            ["SCB"] = SCB.alias(),
            [WeightFormatKey] = tensor((byte)0),
        };
        foreach (var t in result.Values) t.MoveToOuterDisposeScope();
        return result;
    }

    /// <summary>Reads bnb's Int8Params tensors (keys relative to the module prefix); weight_format may be absent.</summary>
    public static Int8Weight FromBnbTensors(IReadOnlyDictionary<string, Tensor> tensors, string source = "bitsandbytes tensors")
    {
        if (!tensors.TryGetValue("weight", out var w))
            throw new InvalidFileFormatException(source, "missing 'weight' of the bitsandbytes int8 weight");
        if (w.dtype != ScalarType.Int8 || w.dim() != 2)
            throw new InvalidFileFormatException(source, $"'weight' must be int8 [out, in] for LLM.int8, is {w.dtype} [{string.Join(", ", w.shape)}]");
        if (!tensors.TryGetValue("SCB", out var scb))
            throw new InvalidFileFormatException(source, "missing 'SCB' (row scales) of the bitsandbytes int8 weight");
        if (scb.dtype != ScalarType.Float32 || scb.numel() != w.shape[0])
            throw new InvalidFileFormatException(source, $"'SCB' must be fp32 with {w.shape[0]} elements, is {scb.dtype} with {scb.numel()}");
        if (tensors.TryGetValue(WeightFormatKey, out var format))
        {
            if (format.numel() != 1 || format.to(ScalarType.Int64).item<long>() != 0)
                throw new InvalidFileFormatException(source, $"'{WeightFormatKey}' must be 0 (row-major); tiled GPU formats are not supported");
        }
        using var scope = NewDisposeScope();
        var cb = w.detach().cpu().contiguous().alias().MoveToOuterDisposeScope();
        var s = scb.detach().cpu().contiguous().reshape(w.shape[0]).alias().MoveToOuterDisposeScope();
        return new Int8Weight(cb, s);
    }

    /// <summary>Releases CB and SCB.</summary>
    public void Dispose()
    {
        CB.Dispose();
        SCB.Dispose();
    }
}
