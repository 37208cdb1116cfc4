using System.Text;
using System.Text.Json;
using PeftSharp.Quantization;

namespace PeftSharp.Tests.Quantization;

/// <summary>bitsandbytes' serialized tensors: written as bnb writes them, read back, and validated on read.</summary>
public class BnbLayoutTests
{
    static string Json(Tensor bytes) => Encoding.UTF8.GetString(bytes.data<byte>().ToArray());

    [Theory]
    [InlineData(QuantType.Nf4, false)]
    [InlineData(QuantType.Nf4, true)]
    [InlineData(QuantType.Fp4, true)]
    public void Four_bit_state_round_trips_through_bnb_tensors(QuantType type, bool dq)
    {
        using var scope = NewDisposeScope();
        var w = randn(new long[] { 96, 33 }, generator: new Generator().manual_seed(5)).to(ScalarType.BFloat16);
        using var state = BlockwiseQuantizer.Quantize(w, type, 64, dq);
        var tensors = state.ToBnbTensors();
        string stateKey = "weight.quant_state.bitsandbytes__" + (type == QuantType.Nf4 ? "nf4" : "fp4");
        var expectedKeys = dq
            ? new[] { "weight", "weight.absmax", "weight.quant_map", "weight.nested_absmax", "weight.nested_quant_map", stateKey }
            : new[] { "weight", "weight.absmax", "weight.quant_map", stateKey };
        Assert.Equal(expectedKeys.Order(), tensors.Keys.Order());
        Assert.Equal([96L * 33 / 2 + 1 - 1 + (96 * 33 % 2), 1L], tensors["weight"].shape);
        Assert.Equal(ScalarType.Byte, tensors["weight"].dtype);
        Assert.Equal(dq ? ScalarType.Byte : ScalarType.Float32, tensors["weight.absmax"].dtype);
        Assert.Equal(50L, tensors["weight.absmax"].numel()); // ceil(3168 / 64)

        using var doc = JsonDocument.Parse(Json(tensors[stateKey]));
        var root = doc.RootElement;
        Assert.Equal(type == QuantType.Nf4 ? "nf4" : "fp4", root.GetProperty("quant_type").GetString());
        Assert.Equal(64, root.GetProperty("blocksize").GetInt32());
        Assert.Equal("bfloat16", root.GetProperty("dtype").GetString());
        Assert.Equal([96L, 33L], root.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()));
        if (dq)
        {
            Assert.Equal(256, root.GetProperty("nested_blocksize").GetInt32());
            Assert.Equal("float32", root.GetProperty("nested_dtype").GetString());
            Assert.Equal(state.NestedOffset, (float)root.GetProperty("nested_offset").GetDouble());
        }

        using var back = QuantState4Bit.FromBnbTensors(tensors);
        Assert.Equal(state.Shape, back.Shape);
        Assert.Equal(ScalarType.BFloat16, back.DType);
        Assert.Equal(state.Dequantize().data<float>().ToArray(), back.Dequantize().data<float>().ToArray());
    }

    [Fact]
    public void Reads_a_hand_built_bnb_state()
    {
        using var scope = NewDisposeScope();
        // Two elements, codes 15 and 0 (NF4: 1.0 and -1.0), absmax 2: json.dumps spelling as bnb writes it.
        var tensors = new Dictionary<string, Tensor>
        {
            ["weight"] = tensor(new byte[] { 0xF0 }).reshape(1, 1),
            ["weight.absmax"] = tensor(new[] { 2f }),
            ["weight.quant_map"] = tensor(Codebooks.Nf4.ToArray()),
            ["weight.quant_state.bitsandbytes__nf4"] = tensor(Encoding.UTF8.GetBytes("""{"quant_type": "nf4", "blocksize": 64, "dtype": "float16", "shape": [1, 2]}""")),
        };
        using var state = QuantState4Bit.FromBnbTensors(tensors, "model.safetensors");
        Assert.Equal(ScalarType.Float16, state.DType);
        Assert.Equal(new[] { 2f, -2f }, state.Dequantize().data<float>().ToArray());
    }

    [Theory]
    [InlineData("weight.absmax", "drop")]
    [InlineData("weight.quant_map", "drop")]
    [InlineData("weight", "drop")]
    [InlineData("weight.nested_absmax", "drop")]
    [InlineData("weight.absmax", "resize")]
    [InlineData("weight", "resize")]
    [InlineData("weight.nested_quant_map", "resize")]
    public void Missing_or_missized_tensors_are_named_in_the_error(string key, string damage)
    {
        using var scope = NewDisposeScope();
        using var state = BlockwiseQuantizer.Quantize(randn(1000), QuantType.Nf4, 64, doubleQuant: true);
        var tensors = state.ToBnbTensors();
        if (damage == "drop") tensors.Remove(key);
        else tensors[key] = tensors[key].reshape(-1).narrow(0, 0, tensors[key].numel() - 1);
        var e = Assert.Throws<InvalidFileFormatException>(() => QuantState4Bit.FromBnbTensors(tensors, "model.safetensors"));
        Assert.Contains($"'{key}'", e.Message, StringComparison.Ordinal);
        Assert.StartsWith("model.safetensors", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_quant_type_and_missing_state_are_rejected()
    {
        using var scope = NewDisposeScope();
        using var state = BlockwiseQuantizer.Quantize(randn(100), QuantType.Nf4, 64);
        var tensors = state.ToBnbTensors();
        var json = tensors["weight.quant_state.bitsandbytes__nf4"];
        tensors.Remove("weight.quant_state.bitsandbytes__nf4");
        Assert.Contains("missing 'weight.quant_state.bitsandbytes__nf4'", Assert.Throws<InvalidFileFormatException>(() => QuantState4Bit.FromBnbTensors(tensors)).Message, StringComparison.Ordinal);
        tensors["weight.quant_state.bitsandbytes__int4"] = json;
        Assert.Contains("unknown quant_type 'int4'", Assert.Throws<InvalidFileFormatException>(() => QuantState4Bit.FromBnbTensors(tensors)).Message, StringComparison.Ordinal);
        tensors.Remove("weight.quant_state.bitsandbytes__int4");
        tensors["weight.quant_state.bitsandbytes__nf4"] = tensor(Encoding.UTF8.GetBytes("""{"quant_type": "nf5", "blocksize": 64, "dtype": "float16", "shape": [100]}"""));
        Assert.Contains("unknown quant_type 'nf5'", Assert.Throws<InvalidFileFormatException>(() => QuantState4Bit.FromBnbTensors(tensors)).Message, StringComparison.Ordinal);
        tensors["weight.quant_state.bitsandbytes__nf4"] = tensor(Encoding.UTF8.GetBytes("""{"quant_type": "nf4", "dtype": "float16", "shape": [100]}"""));
        Assert.Contains("\"blocksize\"", Assert.Throws<InvalidFileFormatException>(() => QuantState4Bit.FromBnbTensors(tensors)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Int8_weight_round_trips_through_bnb_tensors()
    {
        using var scope = NewDisposeScope();
        using var weight = Int8Quantizer.Quantize(randn(new long[] { 8, 16 }, generator: new Generator().manual_seed(1)));
        var tensors = weight.ToBnbTensors();
        Assert.Equal(["SCB", "weight", "weight_format"], tensors.Keys.Order());
        Assert.Equal(ScalarType.Int8, tensors["weight"].dtype);
        Assert.Equal(ScalarType.Float32, tensors["SCB"].dtype);
        Assert.Equal(0, tensors["weight_format"].dim());
        Assert.Equal(ScalarType.Byte, tensors["weight_format"].dtype);
        using var back = Int8Weight.FromBnbTensors(tensors);
        Assert.True(back.CB.equal(weight.CB).all().item<bool>());
        Assert.True(back.SCB.equal(weight.SCB).all().item<bool>());

        tensors["weight_format"] = tensor((byte)1);
        Assert.Contains("'weight_format'", Assert.Throws<InvalidFileFormatException>(() => Int8Weight.FromBnbTensors(tensors)).Message, StringComparison.Ordinal);
        tensors.Remove("weight_format");
        tensors["SCB"] = ones(7);
        Assert.Contains("'SCB'", Assert.Throws<InvalidFileFormatException>(() => Int8Weight.FromBnbTensors(tensors)).Message, StringComparison.Ordinal);
    }
}
