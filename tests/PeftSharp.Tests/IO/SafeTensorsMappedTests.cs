using PeftSharp.Tests.Support;
using PeftSharp.IO.SafeTensors;

namespace PeftSharp.Tests.IO;

public class SafeTensorsMappedTests
{
    [Fact]
    public void Mapped_tensor_equals_the_copy_and_outlives_the_file_object()
    {
        using var folder = new TempDir();
        using var scope = NewDisposeScope();
        var expected = randn(64, 33);
        string path = folder.File("m.safetensors");
        SafeTensorsWriter.Write(path, [KeyValuePair.Create("w", expected), KeyValuePair.Create("b", arange(5, int64))]);

        Tensor mapped;
        using (var file = SafeTensorsFile.Open(path))
        {
            Assert.True(file.IsAligned("w"));
            mapped = file.LoadMapped("w");
        }
        GC.Collect();
        GC.WaitForPendingFinalizers();

        Assert.True(expected.equal(mapped).all().item<bool>());
        using var view = mapped[1..3]; // a view keeps the storage, and so the mapping, alive too
        mapped.Dispose();
        Assert.True(expected[1..3].equal(view).all().item<bool>());
    }

    [Fact]
    public void Writing_into_a_mapped_tensor_never_changes_the_file()
    {
        using var folder = new TempDir();
        using var scope = NewDisposeScope();
        string path = folder.File("cow.safetensors");
        SafeTensorsWriter.Write(path, [KeyValuePair.Create("w", zeros(1000))]);
        byte[] before = File.ReadAllBytes(path);

        using (var file = SafeTensorsFile.Open(path))
        {
            var mapped = file.LoadMapped("w");
            mapped.add_(1);
            Assert.Equal(1000f, mapped.sum().item<float>());
            Assert.Equal(0f, file.Load("w").sum().item<float>());
        }
        Assert.Equal(before, File.ReadAllBytes(path));
    }

    [Fact]
    public void Unaligned_or_empty_data_falls_back_to_a_copy()
    {
        using var folder = new TempDir();
        using var scope = NewDisposeScope();
        string path = folder.File("u.safetensors");
        // "a" (I8, 3 bytes) sorts first, so "b" (F32) starts at data offset 3.
        SafeTensorsWriter.Write(path, [KeyValuePair.Create("a", ones(3, int8)), KeyValuePair.Create("b", arange(4, float32)),
            KeyValuePair.Create("c", zeros(0))]);
        using var file = SafeTensorsFile.Open(path);
        Assert.False(file.IsAligned("b"));
        Assert.True(arange(4, float32).equal(file.LoadMapped("b")).all().item<bool>());
        Assert.Equal([0L], file.LoadMapped("c").shape);
    }

    [Fact]
    public void Many_mapped_loads_and_disposals_keep_working()
    {
        using var folder = new TempDir();
        string path = folder.File("many.safetensors");
        using (var scope = NewDisposeScope())
            SafeTensorsWriter.Write(path, [KeyValuePair.Create("w", arange(256, float32))]);
        using var file = SafeTensorsFile.Open(path);
        for (int i = 0; i < 200; i++)
        {
            using var scope = NewDisposeScope();
            var a = file.LoadMapped("w");
            var b = file.LoadMapped("w"); // same address twice: reference counts must add up
            a.Dispose();
            Assert.Equal(255f, b[255].item<float>());
        }
    }
}

public class SafeTensorsAllocationTests
{
    [Fact]
    public void Load_allocates_no_managed_buffer_of_the_tensor_size()
    {
        using var folder = new TempDir();
        string path = folder.File("big.safetensors");
        using (var scope = NewDisposeScope())
            SafeTensorsWriter.Write(path, [KeyValuePair.Create("w", randn(1024, 1024))]); // 4 MB
        using var file = SafeTensorsFile.Open(path);
        file.Load("w").Dispose(); // warm up JIT and TorchSharp statics

        long before = GC.GetAllocatedBytesForCurrentThread();
        using var loaded = file.Load("w");
        using var mapped = file.LoadMapped("w");
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.True(allocated < 64 * 1024, $"allocated {allocated} managed bytes");
        Assert.True(loaded.equal(mapped).all().item<bool>());
    }
}

public class SafeTensorsReplaceWhileOpenTests
{
    [Fact]
    public void Overwriting_an_open_file_keeps_the_open_one_readable()
    {
        using var folder = new TempDir();
        using var scope = NewDisposeScope();
        string path = folder.File("live.safetensors");
        SafeTensorsWriter.Write(path, [KeyValuePair.Create("w", zeros(4))]);
        using var old = SafeTensorsFile.Open(path);
        var mapped = old.LoadMapped("w");

        SafeTensorsWriter.Write(path, [KeyValuePair.Create("w", ones(4))]);

        Assert.Equal(0f, old.Load("w").sum().item<float>());
        Assert.Equal(0f, mapped.sum().item<float>());
        using var fresh = SafeTensorsFile.Open(path);
        Assert.Equal(4f, fresh.Load("w").sum().item<float>());
    }
}
