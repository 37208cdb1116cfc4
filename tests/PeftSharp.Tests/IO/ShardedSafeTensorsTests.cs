using PeftSharp.Tests.Support;
using System.Text.Json;
using PeftSharp.IO;
using PeftSharp.IO.SafeTensors;

namespace PeftSharp.Tests.IO;

public class ShardedSafeTensorsTests
{
    private static List<KeyValuePair<string, Tensor>> Model() =>
    [
        KeyValuePair.Create("embed.weight", randn(10, 4)),          // 160 bytes
        KeyValuePair.Create("layers.0.weight", randn(4, 4)),        // 64
        KeyValuePair.Create("layers.1.weight", randn(4, 4)),        // 64
        KeyValuePair.Create("norm.weight", ones(4, dtype: bfloat16)), // 8
        KeyValuePair.Create("head.weight", randn(10, 4)),           // 160
    ];

    [Fact]
    public void Sharded_write_then_read_round_trips_with_total_size()
    {
        using var folder = new TempDir();
        using var scope = NewDisposeScope();
        var model = Model();

        var written = ShardedSafeTensorsWriter.Write(folder.Path, model, maxShardBytes: 200);

        // 160 | 64+64+8 | 160
        Assert.Equal(["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
            "model-00003-of-00003.safetensors", "model.safetensors.index.json"], written);
        using var doc = JsonDocument.Parse(File.ReadAllBytes(folder.File("model.safetensors.index.json")));
        Assert.Equal(456, doc.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64());
        var weightMap = doc.RootElement.GetProperty("weight_map").EnumerateObject().ToList();
        Assert.Equal(model.Select(p => p.Key).Order(StringComparer.Ordinal), weightMap.Select(p => p.Name));
        Assert.Equal("model-00002-of-00003.safetensors", doc.RootElement.GetProperty("weight_map").GetProperty("norm.weight").GetString());

        using var source = SafeTensorsCheckpoint.Open(folder.Path);
        var sharded = Assert.IsType<ShardedSafeTensors>(source);
        Assert.Equal("456", sharded.Metadata["total_size"]);
        Assert.Equal(3, sharded.ShardFiles.Count);
        sharded.Validate();
        foreach (var (key, expected) in model)
        {
            Assert.True(expected.equal(source.Load(key)).all().item<bool>(), key);
            Assert.Equal(expected.shape, source.GetInfo(key).Shape);
        }
        Assert.Throws<TensorNotFoundException>(() => source.Load("nope"));
    }

    [Fact]
    public void Everything_that_fits_goes_to_model_safetensors_and_stale_shards_are_removed()
    {
        using var folder = new TempDir();
        using var scope = NewDisposeScope();
        var model = Model();
        ShardedSafeTensorsWriter.Write(folder.Path, model, maxShardBytes: 200);

        var written = ShardedSafeTensorsWriter.Write(folder.Path, model, maxShardBytes: 10_000);

        Assert.Equal(["model.safetensors"], written);
        Assert.Equal(["model.safetensors"], Directory.GetFiles(folder.Path).Select(Path.GetFileName));
        using var source = SafeTensorsCheckpoint.Open(folder.Path);
        var file = Assert.IsType<SafeTensorsFile>(source);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal(model.Count, file.Keys.Count);
    }

    [Fact]
    public void Missing_shard_is_named_with_the_index()
    {
        using var folder = new TempDir();
        using var scope = NewDisposeScope();
        ShardedSafeTensorsWriter.Write(folder.Path, Model(), maxShardBytes: 200);
        File.Delete(folder.File("model-00002-of-00003.safetensors"));

        var e = Assert.Throws<InvalidFileFormatException>(() => SafeTensorsCheckpoint.Open(folder.Path));
        Assert.Contains("model.safetensors.index.json", e.Message);
        Assert.Contains("shard 'model-00002-of-00003.safetensors'", e.Message);
        Assert.Contains("is missing", e.Message);
    }

    [Fact]
    public void Key_missing_from_its_shard_is_reported_when_the_shard_opens()
    {
        using var folder = new TempDir();
        using var scope = NewDisposeScope();
        ShardedSafeTensorsWriter.Write(folder.Path, Model(), maxShardBytes: 200);
        string index = folder.File("model.safetensors.index.json");
        File.WriteAllText(index, File.ReadAllText(index).Replace("\"head.weight\": \"model-00003", "\"head.weight\": \"model-00001"));

        using var source = ShardedSafeTensors.Open(index);
        var e = Assert.Throws<InvalidFileFormatException>(() => source.Load("embed.weight"));
        Assert.Contains("tensor 'head.weight' in shard 'model-00001-of-00003.safetensors'", e.Message);
        Assert.Contains("does not hold it", e.Message);
    }

    [Fact]
    public void Index_with_a_path_outside_its_folder_is_refused()
    {
        using var folder = new TempDir();
        string index = folder.File("model.safetensors.index.json");
        File.WriteAllText(index, """{"metadata":{},"weight_map":{"w":"../evil.safetensors"}}""");
        var e = Assert.Throws<InvalidFileFormatException>(() => ShardedSafeTensors.Open(index));
        Assert.Contains("'../evil.safetensors', which is not a file name", e.Message);
    }

    [Fact]
    public void Checkpoint_open_accepts_file_index_and_folder_and_explains_an_unusable_folder()
    {
        using var folder = new TempDir();
        using var scope = NewDisposeScope();
        SafeTensorsWriter.Write(folder.File("adapter.safetensors"), [KeyValuePair.Create("w", ones(2))]);
        using (var byFolder = SafeTensorsCheckpoint.Open(folder.Path))
            Assert.True(byFolder.Contains("w"));
        using (var byFile = SafeTensorsCheckpoint.Open(folder.File("adapter.safetensors")))
            Assert.True(byFile.Contains("w"));

        SafeTensorsWriter.Write(folder.File("other.safetensors"), [KeyValuePair.Create("v", ones(2))]);
        File.WriteAllText(folder.File("config.json"), "{}");
        var e = Assert.Throws<PeftSharpException>(() => SafeTensorsCheckpoint.Open(folder.Path));
        Assert.Contains("adapter.safetensors, config.json, other.safetensors", e.Message);
        Assert.Contains("model.safetensors.index.json", e.Message);

        using var empty = new TempDir();
        var none = Assert.Throws<PeftSharpException>(() => SafeTensorsCheckpoint.Open(empty.Path));
        Assert.Contains("it is empty", none.Message);
    }
}
