using System.Security.Cryptography;
using System.Text;
using PeftSharp.IO.HuggingFace;
using PeftSharp.Models;
using PeftSharp.Tests.Support;
using HubFile = PeftSharp.Tests.IO.HubFakeServer.HubFile;

namespace PeftSharp.Tests.IO;

/// <summary>Repos for <see cref="HubFakeServer"/>: a real tiny Llama folder beside files a model download must skip.</summary>
public static class HubTestData
{
    public const string Repo = "tiny-org/tiny-llama";

    /// <summary>The files save_pretrained writes (weights sharded when <paramref name="maxShardBytes"/> is small), from a seeded random model.</summary>
    public static Dictionary<string, HubFile> ModelFiles(long seed = 0, long maxShardBytes = 5L << 30)
    {
        using var tmp = Fixtures.NewTempDir();
        var folder = Path.Combine(tmp.Path, "model");
        using (var model = TinyModels.Random(TinyModels.Config(), seed)) ModelFolderWriter.Save(model, folder, maxShardBytes: maxShardBytes);
        return Directory.EnumerateFiles(folder).ToDictionary(f => Path.GetFileName(f)!, f => new HubFile(File.ReadAllBytes(f), Lfs: f.EndsWith(".safetensors", StringComparison.Ordinal)));
    }

    /// <summary>A model repo as people publish them: the model's files, a tokenizer, and files a download must skip.</summary>
    public static Dictionary<string, HubFile> Repository(long seed = 0, long maxShardBytes = 5L << 30)
    {
        var files = ModelFiles(seed, maxShardBytes);
        files["tokenizer.json"] = Text("{\"version\":\"1.0\",\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},\"merges\":[]}}");
        files["tokenizer_config.json"] = Text("{\"model_max_length\":128}");
        files["README.md"] = Text("# tiny llama\n");
        files["pytorch_model.bin"] = new HubFile([0x80, 0x02, 0x7d, 0x71, 0x00, .. new byte[4000]], Lfs: true); // a pickle
        files["original/consolidated.pth"] = new HubFile([0x50, 0x4b, 0x03, 0x04, .. new byte[3000]], Lfs: true); // a zip pickle
        files["onnx/model.onnx"] = new HubFile(new byte[2000], Lfs: true);
        return files;
    }

    /// <summary>
    /// karpathy/tinyllamas as it is laid out: llama2.c checkpoints, the real stories260K files in a subfolder (skips the
    /// test when the fixture is missing) and top-level checkpoints a subfolder download must leave alone.
    /// </summary>
    public static Dictionary<string, HubFile> TinyLlamas() => new()
    {
        ["stories260K/stories260K.bin"] = new(File.ReadAllBytes(Fixtures.Require("models", "stories260K", "stories260K.bin")), Lfs: true),
        ["stories260K/tok512.bin"] = new(File.ReadAllBytes(Fixtures.Require("models", "stories260K", "tok512.bin")), Lfs: true),
        ["stories260K/README.md"] = Text("260K params"),
        ["stories15M.bin"] = new([0x80, 0x02, .. new byte[100]], Lfs: true),
        ["stories15M.pt"] = new(new byte[100], Lfs: true),
        ["other/model.bin"] = new(new byte[100], Lfs: true),
    };

    /// <summary>The files a model download of <see cref="Repository"/> keeps.</summary>
    public static string[] Kept(IReadOnlyDictionary<string, HubFile> repo) =>
        repo.Keys.Where(f => f.EndsWith(".safetensors", StringComparison.Ordinal) || f.EndsWith(".json", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToArray();

    public static HubFile Text(string s) => new(Encoding.UTF8.GetBytes(s), Lfs: false);

    /// <summary>A commit sha made from a name, so tests can tell commits apart in messages.</summary>
    public static string Commit(string name) => Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(name)));

    public static HubOptions Options(HubFakeServer hub, string cacheDir, string? token = null) =>
        new() { Endpoint = hub.Endpoint, CacheDir = cacheDir, Token = token };

    /// <summary>The snapshot's files, relative, with '/' separators.</summary>
    public static string[] SnapshotFiles(string snapshot) =>
        Directory.EnumerateFiles(snapshot, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(snapshot, f).Replace('\\', '/')).Order(StringComparer.Ordinal).ToArray();
}

/// <summary>A fake Hub serving <see cref="HubTestData.Repository"/> as <see cref="HubTestData.Repo"/> (commit "first" on main), and an empty cache.</summary>
public sealed class HubScene : IDisposable
{
    public HubFakeServer Hub { get; } = new();
    public TempDir Cache { get; } = Fixtures.NewTempDir();
    public Dictionary<string, HubFile> Files { get; }
    public string Commit { get; } = HubTestData.Commit("first");

    public HubScene(Dictionary<string, HubFile>? files = null)
    {
        Files = files ?? HubTestData.Repository();
        Hub.AddCommit(HubTestData.Repo, Commit, Files, "main");
    }

    /// <summary>The repo's folder in the cache.</summary>
    public string RepoDir => Path.Combine(Cache.Path, "models--tiny-org--tiny-llama");
    public HubOptions Options => HubTestData.Options(Hub, Cache.Path);

    public void Dispose()
    {
        Hub.Dispose();
        Cache.Dispose();
    }
}
