using PeftSharp.IO.Gguf;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.IO;

/// <summary>The GGUF container: metadata of every type, tensor infos in ggml order, alignment, Q8_0 blocks, atomic writes.</summary>
public class GgufWriterTests
{
    [Fact]
    public void Metadata_of_every_type_and_arrays_round_trip_in_order()
    {
        using var dir = Fixtures.NewTempDir();
        var md = new GgufMetadata()
            .Set("u8", new GgufValue(GgufValueType.UInt8, (byte)200))
            .Set("i8", new GgufValue(GgufValueType.Int8, (sbyte)-100))
            .Set("u16", new GgufValue(GgufValueType.UInt16, (ushort)60000))
            .Set("i16", new GgufValue(GgufValueType.Int16, (short)-30000))
            .UInt32("u32", 4_000_000_000)
            .Int32("i32", -2_000_000_000)
            .Float32("f32", 1.25e-5f)
            .Bool("yes", true)
            .Bool("no", false)
            .String("s", "héllo ▁wörld")
            .Set("u64", new GgufValue(GgufValueType.UInt64, ulong.MaxValue - 7))
            .Set("i64", new GgufValue(GgufValueType.Int64, long.MinValue + 3))
            .Set("f64", new GgufValue(GgufValueType.Float64, Math.PI))
            .Strings("strings", ["a", "", "▁b c"])
            .Float32s("floats", [1.5f, -0.25f])
            .Int32s("ints", [1, 6, -3]);
        var path = dir.File("m.gguf");
        GgufWriter.Write(path, md, []);
        var f = GgufFile.Read(path);
        Assert.Equal(3u, f.Version);
        Assert.Equal(md.Entries.Select(e => e.Key).Append("general.alignment"), f.KeyOrder);
        Assert.Equal((byte)200, f["u8"]);
        Assert.Equal((sbyte)-100, f["i8"]);
        Assert.Equal((ushort)60000, f["u16"]);
        Assert.Equal((short)-30000, f["i16"]);
        Assert.Equal(4_000_000_000u, f["u32"]);
        Assert.Equal(-2_000_000_000, f["i32"]);
        Assert.Equal(1.25e-5f, f["f32"]);
        Assert.Equal(true, f["yes"]);
        Assert.Equal(false, f["no"]);
        Assert.Equal("héllo ▁wörld", f["s"]);
        Assert.Equal(ulong.MaxValue - 7, f["u64"]);
        Assert.Equal(long.MinValue + 3, f["i64"]);
        Assert.Equal(Math.PI, f["f64"]);
        Assert.Equal(["a", "", "▁b c"], f.Array<string>("strings"));
        Assert.Equal([1.5f, -0.25f], f.Array<float>("floats"));
        Assert.Equal([1, 6, -3], f.Array<int>("ints"));
        Assert.Equal(GgufValueType.Array, f.Metadata["ints"].Type);
        Assert.Equal(32u, f["general.alignment"]);
    }

    [Fact]
    public void Tensor_infos_hold_ggml_order_dims_and_aligned_offsets_relative_to_the_data_section()
    {
        using var dir = Fixtures.NewTempDir();
        var a = arange(0, 15, dtype: ScalarType.Float32).reshape(3, 5);   // 60 bytes: the next tensor must start at 64
        var b = arange(0, 7, dtype: ScalarType.Float32) / 3;
        var path = dir.File("t.gguf");
        GgufWriter.Write(path, new GgufMetadata().String("general.architecture", "test"),
        [
            GgufTensorEncoder.Lazy("a", [3, 5], GgufTensorType.F32, () => a.alias()),
            GgufTensorEncoder.Lazy("b", [7], GgufTensorType.F16, () => b.alias()),
        ]);
        var f = GgufFile.Read(path);
        Assert.Equal(["a", "b"], f.TensorOrder);
        Assert.Equal([5L, 3L], f.Tensors["a"].Dims);
        Assert.Equal(0ul, f.Tensors["a"].Offset);
        Assert.Equal(64ul, f.Tensors["b"].Offset);
        Assert.Equal(0, f.DataStart % 32);
        Assert.Equal(a.data<float>().ToArray(), f.Float("a").data<float>().ToArray());
        Assert.Equal(b.to(ScalarType.Float16).to(ScalarType.Float32).data<float>().ToArray(), f.Float("b").data<float>().ToArray());
        Assert.Equal(0, new FileInfo(path).Length % 32);
        Assert.False(a.IsInvalid);   // the writer disposed its alias, not the caller's tensor
    }

    [Fact]
    public void A_tensor_of_the_wrong_size_fails_and_leaves_the_old_file_and_no_temp_file()
    {
        using var dir = Fixtures.NewTempDir();
        var path = dir.File("x.gguf");
        File.WriteAllText(path, "old");
        var bad = new GgufTensor("w", [2, 2], GgufTensorType.F32, () => new byte[12]);
        var e = Assert.Throws<ArgumentException>(() => GgufWriter.Write(path, new GgufMetadata(), [bad]));
        Assert.Contains("expected 16", e.Message);
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(dir.Path));
        Assert.Throws<ArgumentException>(() => GgufWriter.Write(path, new GgufMetadata(), [bad with { Name = new string('n', 64) }]));
    }

    /// <summary>gguf-py's quants.py Q8_0, written out again with torch ops: d = absmax/127, q = roundf(x * (1/d)).</summary>
    internal static byte[] ReferenceQ8(Tensor values)
    {
        var blocks = values.to(ScalarType.Float32).reshape(-1, 32);
        var d = blocks.abs().amax([1], keepdim: true) / 127f;
        var id = where(d == 0, zeros_like(d), 1f / d);
        var x = blocks * id;
        var a = x.abs();
        var q = (x.sign() * (a.floor() + (2 * (a - a.floor())).floor())).to(ScalarType.Int8);   // numpy's np_roundf
        var dBytes = d.to(ScalarType.Float16).contiguous().bytes.ToArray();
        var qBytes = q.contiguous().bytes.ToArray();
        var output = new byte[blocks.shape[0] * 34];
        for (int b = 0; b < blocks.shape[0]; b++)
        {
            Array.Copy(dBytes, 2 * b, output, 34 * b, 2);
            Array.Copy(qBytes, 32 * b, output, 34 * b + 2, 32);
        }
        return output;
    }

    [Fact]
    public void Q8_0_blocks_equal_the_reference_computation_and_dequantize_within_half_a_step()
    {
        using var gen = new Generator().manual_seed(3);
        var x = randn(8 * 32, generator: gen) * 0.3f;
        x[torch.TensorIndex.Slice(32, 64)] = zeros(32);                    // an all-zero block: d = 0, q = 0
        x[70] = tensor(5f);                                                 // an outlier that sets its block's scale
        x[100] = tensor(0.5f * 5f / 127f);                                  // exact halves round away from zero
        var bytes = Q8_0.Quantize(x.data<float>().ToArray());
        Assert.Equal(ReferenceQ8(x), bytes);
        Assert.Equal(8 * 34, bytes.Length);
        for (int b = 0; b < 8; b++)
        {
            float d = (float)BitConverter.ToHalf(bytes, 34 * b);
            for (int j = 0; j < 32; j++)
            {
                float value = x[32 * b + j].item<float>();
                float dq = d * (sbyte)bytes[34 * b + 2 + j];
                float absmax = x[TensorIndex.Slice(32 * b, 32 * b + 32)].abs().max().item<float>();
                // rounding to the int8 grid (d/2) plus the fp16 rounding of d (2^-11 relative) times |q| <= 127
                Assert.True(Math.Abs(value - dq) <= d / 2 + absmax * 1e-3f + 1e-7f, $"block {b} [{j}]: {value} vs {dq}");
            }
        }
        Assert.Equal(0, BitConverter.ToHalf(bytes, 34) == (Half)0 ? 0 : 1);
    }
}
