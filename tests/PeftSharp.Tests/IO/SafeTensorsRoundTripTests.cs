using PeftSharp.Tests.Support;
using PeftSharp.IO;
using PeftSharp.IO.SafeTensors;

namespace PeftSharp.Tests.IO;

public class SafeTensorsRoundTripTests
{
    private static readonly long[][] OddShapes = [[], [0], [1], [7], [3, 5], [2, 0, 3], [2, 3, 5], [1, 1, 1, 3]];

    internal static Tensor Random(TensorDType dtype, long[] shape)
    {
        var type = dtype.ToScalarType();
        return dtype switch
        {
            TensorDType.BOOL => rand(shape) > 0.5,
            TensorDType.U8 => randint(0, 256, shape, type),
            TensorDType.I8 => randint(-128, 128, shape, type),
            TensorDType.I16 or TensorDType.I32 or TensorDType.I64 => randint(-30000, 30000, shape, type),
            _ => randn(shape, float32).to_type(type),
        };
    }

    public static TheoryData<TensorDType> AllDTypes => new(Enum.GetValues<TensorDType>());

    [Theory]
    [MemberData(nameof(AllDTypes))]
    public void Every_dtype_round_trips_with_odd_shapes(TensorDType dtype)
    {
        using var folder = new TempDir();
        using var scope = NewDisposeScope();
        var tensors = OddShapes.Select((s, i) => KeyValuePair.Create($"t{i}", Random(dtype, s))).ToList();
        string path = folder.File("all.safetensors");

        SafeTensorsWriter.Write(path, tensors);

        using var file = SafeTensorsFile.Open(path);
        Assert.Equal(tensors.Count, file.Keys.Count);
        foreach (var (key, expected) in tensors)
        {
            var info = file.GetInfo(key);
            Assert.Equal(dtype, info.DType);
            Assert.Equal(expected.shape, info.Shape);
            Assert.Equal(expected.NumberOfElements * dtype.ElementSize(), info.ByteLength);
            using var loaded = file.Load(key);
            Assert.Equal(expected.dtype, loaded.dtype);
            Assert.Equal(expected.shape, loaded.shape);
            Assert.True(expected.equal(loaded).all().item<bool>(), $"{dtype} {key} differs");
        }
    }

    [Fact]
    public void Metadata_round_trips_and_is_empty_when_absent()
    {
        using var folder = new TempDir();
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode + \"quotes\"", ["empty"] = "" };
        using var t = ones(2);
        SafeTensorsWriter.Write(folder.File("m.safetensors"), [KeyValuePair.Create("w", t)], metadata);
        SafeTensorsWriter.Write(folder.File("n.safetensors"), [KeyValuePair.Create("w", t)]);

        using var withMeta = SafeTensorsFile.Open(folder.File("m.safetensors"));
        using var without = SafeTensorsFile.Open(folder.File("n.safetensors"));
        Assert.Equal(metadata.OrderBy(p => p.Key), withMeta.Metadata.OrderBy(p => p.Key));
        Assert.Empty(without.Metadata);
    }

    [Fact]
    public void Load_casts_to_the_requested_dtype()
    {
        using var folder = new TempDir();
        using var t = tensor(new float[] { 1.5f, -2f, 3.25f });
        SafeTensorsWriter.Write(folder.File("c.safetensors"), [KeyValuePair.Create("w", t)]);
        using var file = SafeTensorsFile.Open(folder.File("c.safetensors"));
        using var bf16 = file.Load("w", ScalarType.BFloat16);
        Assert.Equal(ScalarType.BFloat16, bf16.dtype);
        Assert.True(t.equal(bf16.to_type(ScalarType.Float32)).all().item<bool>());
    }

    [Fact]
    public void Non_contiguous_tensors_are_written_in_logical_order()
    {
        using var folder = new TempDir();
        using var scope = NewDisposeScope();
        var t = arange(6, int32).reshape(2, 3).t(); // 3x2, strided
        SafeTensorsWriter.Write(folder.File("t.safetensors"), [KeyValuePair.Create("w", t)]);
        using var file = SafeTensorsFile.Open(folder.File("t.safetensors"));
        Assert.True(t.equal(file.Load("w")).all().item<bool>());
    }

    [Fact]
    public void Unknown_key_names_the_key_and_lists_available_ones()
    {
        using var folder = new TempDir();
        using var scope = NewDisposeScope();
        SafeTensorsWriter.Write(folder.File("k.safetensors"),
            [KeyValuePair.Create("model.layers.0.q_proj.weight", ones(1)), KeyValuePair.Create("model.norm.weight", ones(1))]);
        using var file = SafeTensorsFile.Open(folder.File("k.safetensors"));

        var e = Assert.Throws<TensorNotFoundException>(() => file.Load("layers.0.q_proj.weight"));
        Assert.Contains("'layers.0.q_proj.weight'", e.Message);
        Assert.Contains("'model.layers.0.q_proj.weight'", e.Message);
        Assert.Contains("k.safetensors", e.Message);
        Assert.IsAssignableFrom<PeftSharpException>(e);
        Assert.False(file.Contains("layers.0.q_proj.weight"));
    }

    [Fact]
    public void Failed_write_leaves_the_existing_file_intact_and_no_temp_files()
    {
        using var folder = new TempDir();
        using var scope = NewDisposeScope();
        string path = folder.File("keep.safetensors");
        SafeTensorsWriter.Write(path, [KeyValuePair.Create("a", arange(10, float32))]);
        byte[] before = File.ReadAllBytes(path);

        IEnumerable<KeyValuePair<string, Tensor>> Failing()
        {
            yield return KeyValuePair.Create("b", zeros(3));
            throw new InvalidOperationException("boom midway");
        }

        var e = Assert.Throws<InvalidOperationException>(() => SafeTensorsWriter.Write(path, Failing()));
        Assert.Equal("boom midway", e.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(folder.Path));
    }

    [Fact]
    public void Writer_rejects_duplicate_names_and_unstorable_dtypes()
    {
        using var folder = new TempDir();
        using var scope = NewDisposeScope();
        var dup = Assert.Throws<PeftSharpException>(() => SafeTensorsWriter.Write(folder.File("d.safetensors"),
            [KeyValuePair.Create("a", ones(1)), KeyValuePair.Create("a", ones(1))]));
        Assert.Contains("'a' is given twice", dup.Message);
        var complex = Assert.Throws<PeftSharpException>(() => SafeTensorsWriter.Write(folder.File("c.safetensors"),
            [KeyValuePair.Create("z", ones(2, complex64))]));
        Assert.Contains("'z'", complex.Message);
        Assert.Empty(Directory.GetFiles(folder.Path));
    }
}
