using System.Globalization;
using System.Text;
using System.Text.Json;
using static TorchSharp.torch;

namespace PeftSharp.Quantization;

/// <summary>
/// bitsandbytes' serialized Params4bit layout (QuantState.as_dict(packed=True)), keys relative to the module:
/// weight, weight.absmax, weight.quant_map, [weight.nested_absmax, weight.nested_quant_map,]
/// weight.quant_state.bitsandbytes__{nf4|fp4} (UTF-8 JSON bytes as a uint8 tensor).
/// </summary>
public sealed partial class QuantState4Bit
{
    /// <summary>
    /// Key, relative to the module, of bnb's packed quant-state JSON without its quant type: "nf4" or "fp4" is
    /// appended.
    /// </summary>
    public const string StateKeyPrefix = "weight.quant_state.bitsandbytes__";

    /// <summary>
    /// The tensors bnb writes, as new handles the caller disposes (the large ones share storage with this state).
    /// </summary>
    public Dictionary<string, Tensor> ToBnbTensors()
    {
        using var scope = NewDisposeScope();
        var result = new Dictionary<string, Tensor>
        {
            ["weight"] = Packed.alias(),
            ["weight.quant_map"] = tensor(Code),
        };
        // Python's json.dumps separators and key order, so the bytes look like bnb's.
        var json = new StringBuilder();
        json.Append(CultureInfo.InvariantCulture, $"{{\"quant_type\": \"{QuantType.ToBnbName()}\", \"blocksize\": {BlockSize}, \"dtype\": \"{DTypeNames.ToTorchName(DType)}\", \"shape\": [{string.Join(", ", Shape)}]");
        if (Nested is null)
        {
            result["weight.absmax"] = Absmax!.alias();
        }
        else
        {
            result["weight.absmax"] = Nested.Quantized.alias();
            result["weight.nested_absmax"] = Nested.Absmax.alias();
            result["weight.nested_quant_map"] = tensor(Nested.Code);
            json.Append(CultureInfo.InvariantCulture, $", \"nested_blocksize\": {Nested.BlockSize}, \"nested_dtype\": \"float32\", \"nested_offset\": {((double)NestedOffset).ToString("R", CultureInfo.InvariantCulture)}");
        }
        json.Append('}');
        result[StateKeyPrefix + QuantType.ToBnbName()] = tensor(Encoding.UTF8.GetBytes(json.ToString()), ScalarType.Byte);
        foreach (var t in result.Values) t.MoveToOuterDisposeScope();
        return result;
    }

    /// <summary>
    /// Reads bnb's tensors (keys relative to the module prefix); <paramref name="source"/> names the file or module
    /// in error messages. Validates presence, dtypes and sizes; the state gets its own CPU copies/handles.
    /// </summary>
    public static QuantState4Bit FromBnbTensors(IReadOnlyDictionary<string, Tensor> tensors, string source = "bitsandbytes tensors")
    {
        var stateKeys = tensors.Keys.Where(k => k.StartsWith(StateKeyPrefix, StringComparison.Ordinal)).ToList();
        if (stateKeys.Count == 0)
            throw new InvalidFileFormatException(source, $"missing '{StateKeyPrefix}nf4' (or __fp4): not a bitsandbytes 4-bit weight");
        if (stateKeys.Count > 1)
            throw new InvalidFileFormatException(source, $"several quant states: {string.Join(", ", stateKeys)}");
        string stateKey = stateKeys[0];
        if (!QuantTypeNames.TryParseBnbName(stateKey[StateKeyPrefix.Length..], out var keyType))
            throw new InvalidFileFormatException(source, $"'{stateKey}': unknown quant_type '{stateKey[StateKeyPrefix.Length..]}' (expected nf4 or fp4)");
        var meta = BnbQuantStateJson.Parse(tensors[stateKey], stateKey, source);
        if (meta.QuantType != keyType)
            throw new InvalidFileFormatException(source, $"'{stateKey}': quant_type '{meta.QuantType.ToBnbName()}' disagrees with the key");
        if (!BlockSizes.IsValid(meta.BlockSize))
            throw new InvalidFileFormatException(source, $"'{stateKey}': blocksize {meta.BlockSize} is not a power of two from 32 to 4096");
        long n = meta.Shape.Aggregate(1L, (a, b) => a * b);
        long blocks = BlockSizes.BlockCount(n, meta.BlockSize);

        using var scope = NewDisposeScope();
        var packed = Take(tensors, "weight", ScalarType.Byte, (n + 1) / 2, source).reshape((n + 1) / 2, 1);
        var code = Take(tensors, "weight.quant_map", ScalarType.Float32, 16, source);
        float[] codeValues = code.data<float>().ToArray();
        QuantState4Bit state;
        if (meta.Nested is null)
        {
            if (tensors.ContainsKey("weight.nested_absmax"))
                throw new InvalidFileFormatException(source, $"'weight.nested_absmax' present but '{stateKey}' has no nested_offset");
            var absmax = Take(tensors, "weight.absmax", ScalarType.Float32, blocks, source);
            state = new QuantState4Bit(meta.QuantType, meta.BlockSize, meta.Shape, meta.DType, packed.MoveToOuterDisposeScope(), absmax.MoveToOuterDisposeScope(), codeValues);
        }
        else
        {
            var (nestedBlock, offset) = meta.Nested.Value;
            if (!BlockSizes.IsValid(nestedBlock))
                throw new InvalidFileFormatException(source, $"'{stateKey}': nested_blocksize {nestedBlock} is not a power of two from 32 to 4096");
            var q = Take(tensors, "weight.absmax", ScalarType.Byte, blocks, source);
            var nestedAbsmax = Take(tensors, "weight.nested_absmax", ScalarType.Float32, BlockSizes.BlockCount(blocks, nestedBlock), source);
            var nestedCode = Take(tensors, "weight.nested_quant_map", ScalarType.Float32, 256, source);
            var nested = new QuantState8Bit(q.MoveToOuterDisposeScope(), nestedAbsmax.MoveToOuterDisposeScope(), nestedBlock, nestedCode.data<float>().ToArray());
            state = new QuantState4Bit(meta.QuantType, meta.BlockSize, meta.Shape, meta.DType, packed.MoveToOuterDisposeScope(), nested, offset, codeValues);
        }
        return state;
    }

    static Tensor Take(IReadOnlyDictionary<string, Tensor> tensors, string key, ScalarType dtype, long elements, string source)
    {
        if (!tensors.TryGetValue(key, out var t))
            throw new InvalidFileFormatException(source, $"missing '{key}' of the bitsandbytes 4-bit weight");
        if (t.dtype != dtype)
            throw new InvalidFileFormatException(source, $"'{key}' is {t.dtype}, expected {dtype}");
        if (t.numel() != elements)
            throw new InvalidFileFormatException(source, $"'{key}' has {t.numel()} elements, expected {elements} for the recorded shape and blocksize");
        return t.detach().cpu().contiguous().reshape(elements);
    }
}

/// <summary>The JSON object bnb packs into weight.quant_state.bitsandbytes__*.</summary>
internal sealed record BnbQuantStateJson(QuantType QuantType, int BlockSize, ScalarType DType, long[] Shape, (int BlockSize, float Offset)? Nested)
{
    public static BnbQuantStateJson Parse(Tensor bytes, string key, string source)
    {
        if (bytes.dtype != ScalarType.Byte)
            throw new InvalidFileFormatException(source, $"'{key}' is {bytes.dtype}, expected uint8 JSON bytes");
        try
        {
            using var doc = JsonDocument.Parse(bytes.detach().cpu().contiguous().data<byte>().ToArray());
            var root = doc.RootElement;
            string typeName = Required(root, "quant_type", key, source).GetString() ?? "";
            if (!QuantTypeNames.TryParseBnbName(typeName, out var type))
                throw new InvalidFileFormatException(source, $"'{key}': unknown quant_type '{typeName}' (expected nf4 or fp4)");
            int blockSize = Required(root, "blocksize", key, source).GetInt32();
            string dtypeName = Required(root, "dtype", key, source).GetString() ?? "";
            if (!DTypeNames.TryParseTorchName(dtypeName, out var dtype))
                throw new InvalidFileFormatException(source, $"'{key}': unsupported dtype '{dtypeName}'");
            long[] shape = Required(root, "shape", key, source).EnumerateArray().Select(e => e.GetInt64()).ToArray();
            if (shape.Any(d => d < 0))
                throw new InvalidFileFormatException(source, $"'{key}': negative dimension in shape [{string.Join(", ", shape)}]");
            (int, float)? nested = null;
            if (root.TryGetProperty("nested_offset", out var offset))
            {
                int nestedBlock = Required(root, "nested_blocksize", key, source).GetInt32();
                nested = (nestedBlock, (float)offset.GetDouble());
            }
            return new BnbQuantStateJson(type, blockSize, dtype, shape, nested);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new InvalidFileFormatException(source, $"'{key}' is not bitsandbytes quant-state JSON: {e.Message}", e);
        }
    }

    static JsonElement Required(JsonElement root, string name, string key, string source) =>
        root.TryGetProperty(name, out var value) ? value
            : throw new InvalidFileFormatException(source, $"'{key}': JSON has no \"{name}\"");
}

/// <summary>torch dtype names as str(dtype) without "torch." (what bnb writes).</summary>
internal static class DTypeNames
{
    public static string ToTorchName(ScalarType type) => type switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float16 => "float16",
        ScalarType.Float64 => "float64",
        _ => throw new ArgumentException($"bitsandbytes 4-bit weights are float tensors, not {type}"),
    };

    public static bool TryParseTorchName(string name, out ScalarType type)
    {
        (bool ok, type) = name switch
        {
            "float32" or "float" => (true, ScalarType.Float32),
            "bfloat16" => (true, ScalarType.BFloat16),
            "float16" or "half" => (true, ScalarType.Float16),
            "float64" or "double" => (true, ScalarType.Float64),
            _ => (false, ScalarType.Float32),
        };
        return ok;
    }
}
