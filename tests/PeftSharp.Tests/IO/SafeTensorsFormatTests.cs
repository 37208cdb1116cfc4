using PeftSharp.Tests.Support;
using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using PeftSharp.IO;
using PeftSharp.IO.SafeTensors;

namespace PeftSharp.Tests.IO;

/// <summary>Checks against the format spec itself, with bytes built here rather than by our writer.</summary>
public class SafeTensorsFormatTests
{
    /// <summary>8-byte little-endian header length, header bytes, data bytes: the whole spec.</summary>
    internal static byte[] Assemble(byte[] header, byte[] data, ulong? declaredLength = null)
    {
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredLength ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        return bytes;
    }

    internal static byte[] Assemble(string header, int dataBytes) => Assemble(Encoding.UTF8.GetBytes(header), new byte[dataBytes]);

    [Fact]
    public void Hand_assembled_file_loads_to_the_expected_values()
    {
        using var folder = new TempDir();
        // Deliberately unsorted keys, no padding and out-of-order offsets: all legal per the spec.
        string header = """{"b":{"dtype":"I16","shape":[3],"data_offsets":[16,22]},"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"c":{"dtype":"BF16","shape":[],"data_offsets":[22,24]},"e":{"dtype":"U8","shape":[0,4],"data_offsets":[24,24]}}""";
        var data = new List<byte>();
        foreach (float f in new[] { 1f, 2f, -3f, 4.5f }) data.AddRange(BitConverter.GetBytes(f));
        foreach (short s in new short[] { -1, 2, 300 }) data.AddRange(BitConverter.GetBytes(s));
        data.AddRange(new byte[] { 0xC0, 0x3F }); // bf16 1.5 = 0x3FC0, little-endian
        string path = folder.File("hand.safetensors");
        File.WriteAllBytes(path, Assemble(Encoding.UTF8.GetBytes(header), data.ToArray()));

        using var file = SafeTensorsFile.Open(path);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal(["a", "b", "c", "e"], file.KeysInFileOrder);
        using var scope = NewDisposeScope();
        Assert.Equal(new[] { 1f, 2f, -3f, 4.5f }, file.Load("a").data<float>().ToArray());
        Assert.Equal([2L, 2L], file.Load("a").shape);
        Assert.Equal(new short[] { -1, 2, 300 }, file.Load("b").data<short>().ToArray());
        var c = file.Load("c");
        Assert.Equal(0, c.dim());
        Assert.Equal(1.5f, c.to_type(ScalarType.Float32).item<float>());
        Assert.Equal([0L, 4L], file.Load("e").shape);
        Assert.Equal(TensorDType.I16, file.GetInfo("b").DType);
        Assert.Equal(6, file.GetInfo("b").ByteLength);
    }

    [Fact]
    public void Written_file_follows_the_spec_byte_for_byte()
    {
        using var folder = new TempDir();
        using var scope = NewDisposeScope();
        var tensors = new Dictionary<string, Tensor>
        {
            ["zeta"] = arange(3, float16), ["alpha"] = arange(5, int64), ["Beta"] = ones(2, 2, dtype: ScalarType.Bool),
            ["mid.weight"] = randn(3, 1), ["empty"] = zeros(0, 3),
        };
        string path = folder.File("spec.safetensors");
        SafeTensorsWriter.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt" });
        byte[] bytes = File.ReadAllBytes(path);

        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, n % 8);
        Assert.Equal(0, (8 + n) % 8);
        string headerText = Encoding.UTF8.GetString(bytes, 8, (int)n);
        Assert.Equal(headerText.TrimEnd(' '), headerText.TrimEnd()); // padding is spaces only
        using var doc = JsonDocument.Parse(headerText);
        var names = doc.RootElement.EnumerateObject().Select(p => p.Name).ToList();
        Assert.Equal("__metadata__", names[0]);
        Assert.Equal(names.Skip(1).Order(StringComparer.Ordinal), names.Skip(1));
        Assert.Equal(tensors.Keys.Order(StringComparer.Ordinal), names.Skip(1));

        long expectedBegin = 0;
        foreach (string name in names.Skip(1))
        {
            var entry = doc.RootElement.GetProperty(name);
            var offsets = entry.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            Assert.Equal(expectedBegin, offsets[0]); // contiguous, in header order
            expectedBegin = offsets[1];
            var t = tensors[name];
            Assert.Equal(t.shape, entry.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()));
            Assert.Equal(TensorDTypes.FromScalarType(t.dtype)!.Value.ToName(), entry.GetProperty("dtype").GetString());
            Assert.Equal(t.contiguous().bytes.ToArray(), bytes.AsSpan((int)(8 + n + offsets[0]), (int)(offsets[1] - offsets[0])).ToArray());
        }
        Assert.Equal(bytes.Length, 8 + n + expectedBegin); // nothing after the last tensor
    }

    [Fact]
    public void Huge_declared_shape_is_rejected_without_allocating()
    {
        using var folder = new TempDir();
        string path = folder.File("huge.safetensors");
        File.WriteAllBytes(path, Assemble("""{"w":{"dtype":"F32","shape":[1000000,1000000],"data_offsets":[0,4000000000000]}}""", 8));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InvalidFileFormatException>(() => SafeTensorsFile.Open(path));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1_000_000);
        Assert.Contains("'w'", e.Message);
        Assert.Contains("past the end of the data section", e.Message);
    }
}
