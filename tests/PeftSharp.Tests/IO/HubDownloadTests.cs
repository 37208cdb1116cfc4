using PeftSharp.IO.HuggingFace;
using PeftSharp.Models;
using PeftSharp.Tests.Support;
using static PeftSharp.Tests.IO.HubTestData;
using HubFile = PeftSharp.Tests.IO.HubFakeServer.HubFile;

namespace PeftSharp.Tests.IO;

/// <summary>Repo ids download into the Hugging Face cache exactly as huggingface_hub lays it out, and only the files a model needs.</summary>
public class HubDownloadTests
{
    [Fact]
    public void A_download_has_huggingface_hubs_layout_and_skips_pickles()
    {
        using var s = new HubScene();
        var (repo, commit) = (s.Files, s.Commit);

        var location = ModelLocator.Resolve(Repo, s.Options);

        var repoDir = s.RepoDir;
        var snapshot = Path.Combine(repoDir, "snapshots", commit);
        Assert.Equal(ModelFormat.HuggingFaceFolder, location.Format);
        Assert.Equal(snapshot, location.Path);
        Assert.Equal(commit, File.ReadAllText(Path.Combine(repoDir, "refs", "main"))); // the bare sha, as huggingface_hub writes it
        Assert.Equal(Kept(repo), SnapshotFiles(snapshot));
        Assert.DoesNotContain("pytorch_model.bin", SnapshotFiles(snapshot));
        foreach (var name in Kept(repo))
        {
            var link = new FileInfo(Path.Combine(snapshot, name));
            Assert.Equal("../../blobs/" + repo[name].ETag, link.LinkTarget);
            Assert.Equal(repo[name].Content, File.ReadAllBytes(link.FullName));
        }
        // LFS files are named by their sha256, git files by their git sha1; nothing else is left in blobs.
        Assert.Equal(Kept(repo).Select(n => repo[n].ETag).Order(), Directory.EnumerateFiles(Path.Combine(repoDir, "blobs")).Select(Path.GetFileName).Order());
        Assert.Equal(64, repo["model.safetensors"].ETag.Length);
        Assert.Equal(40, repo["config.json"].ETag.Length);
        Assert.DoesNotContain(s.Hub.Requests, r => r.Path.Contains("pytorch_model.bin") || r.Path.Contains(".pth") || r.Path.Contains("onnx"));
        Assert.DoesNotContain(s.Hub.Requests, r => r.ToCdn && r.Header("Authorization") is not null);
    }

    [Fact]
    public void Pickles_are_downloaded_only_when_an_include_pattern_names_them()
    {
        using var s = new HubScene();
        HubRepoId.TryParse(Repo, out var id);

        var folder = HubDownload.Model(id, s.Options with { Include = ["*.bin", "original/*"] });

        Assert.Equal(Kept(s.Files).Concat(["original/consolidated.pth", "pytorch_model.bin"]).Order(StringComparer.Ordinal), SnapshotFiles(folder));
        Assert.Equal("../../../blobs/" + s.Files["original/consolidated.pth"].ETag, new FileInfo(Path.Combine(folder, "original", "consolidated.pth")).LinkTarget);
    }

    [Fact]
    public void A_sharded_model_downloads_its_shards_and_a_missing_shard_is_fetched_again()
    {
        using var hub = new HubFakeServer();
        using var tmp = Fixtures.NewTempDir();
        var repo = Repository(maxShardBytes: 20_000);
        repo["consolidated.safetensors"] = new HubFile(new byte[5000], Lfs: true); // Mistral-style duplicate weights
        var shards = repo.Keys.Where(k => k.StartsWith("model-", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
        Assert.True(shards.Count > 1);
        hub.AddCommit(Repo, Commit("sharded"), repo, "main");

        var folder = ModelLocator.Resolve(Repo, Options(hub, tmp.Path)).Path;
        Assert.Contains("model.safetensors.index.json", SnapshotFiles(folder));
        Assert.Equal(shards, SnapshotFiles(folder).Where(f => f.StartsWith("model-", StringComparison.Ordinal)));
        Assert.DoesNotContain("consolidated.safetensors", SnapshotFiles(folder));

        // A snapshot that lost a shard is not trusted: the shard alone is downloaded again.
        File.Delete(Path.Combine(folder, shards[^1]));
        File.Delete(Path.Combine(tmp.Path, "models--tiny-org--tiny-llama", "blobs", repo[shards[^1]].ETag));
        hub.ClearRequests();
        Assert.Equal(folder, ModelLocator.Resolve(Repo, Options(hub, tmp.Path)).Path);
        Assert.Equal(repo[shards[^1]].Content, File.ReadAllBytes(Path.Combine(folder, shards[^1])));
        Assert.Equal(["/cdn/" + repo[shards[^1]].Sha256], hub.Requests.Where(r => r.ToCdn).Select(r => r.Path));
    }

    [Fact]
    public void Branches_tags_and_commits_resolve_to_their_snapshots_and_share_blobs()
    {
        using var hub = new HubFakeServer();
        using var tmp = Fixtures.NewTempDir();
        var v1 = Repository();
        var v2 = new Dictionary<string, HubFile>(v1) { ["tokenizer_config.json"] = Text("{\"model_max_length\":256}") };
        string c1 = Commit("v1"), c2 = Commit("v2"), c3 = Commit("unreferenced");
        hub.AddCommit(Repo, c1, v1, "v1");
        hub.AddCommit(Repo, c2, v2, "main");
        hub.AddCommit(Repo, c3, v2);
        var options = Options(hub, tmp.Path);
        var repoDir = Path.Combine(tmp.Path, "models--tiny-org--tiny-llama");

        Assert.Equal(Path.Combine(repoDir, "snapshots", c1), ModelLocator.Resolve(Repo + "@v1", options).Path);
        Assert.Equal(c1, File.ReadAllText(Path.Combine(repoDir, "refs", "v1")));
        Assert.Equal(Path.Combine(repoDir, "snapshots", c2), ModelLocator.Resolve(Repo, options).Path);
        Assert.Equal("{\"model_max_length\":256}", File.ReadAllText(Path.Combine(repoDir, "snapshots", c2, "tokenizer_config.json")));
        // main shares v1's weights: the blob is linked, not downloaded twice.
        Assert.Single(hub.Requests, r => r.ToCdn && r.Path.EndsWith(v1["model.safetensors"].Sha256, StringComparison.Ordinal));

        Assert.Equal(Path.Combine(repoDir, "snapshots", c3), ModelLocator.Resolve($"{Repo}@{c3}", options).Path);
        Assert.False(File.Exists(Path.Combine(repoDir, "refs", c3))); // a commit needs no ref
        hub.ClearRequests();
        Assert.Equal(Path.Combine(repoDir, "snapshots", c1), ModelLocator.Resolve($"{Repo}@{c1}", options).Path);
        Assert.Empty(hub.Requests);
    }

    [Fact]
    public void A_subfolder_id_downloads_that_folders_llama2c_files_and_resolves_inside_the_snapshot()
    {
        var repo = TinyLlamas();
        using var hub = new HubFakeServer();
        using var tmp = Fixtures.NewTempDir();
        var commit = Commit("tinyllamas");
        hub.AddCommit("karpathy/tinyllamas", commit, repo, "main");

        var location = ModelLocator.Resolve("karpathy/tinyllamas/stories260K", Options(hub, tmp.Path));

        var snapshot = Path.Combine(tmp.Path, "models--karpathy--tinyllamas", "snapshots", commit);
        Assert.Equal(ModelFormat.LlamaC, location.Format);
        Assert.Equal(Path.Combine(snapshot, "stories260K", "stories260K.bin"), location.Path);
        Assert.Equal(["stories260K/stories260K.bin", "stories260K/tok512.bin"], SnapshotFiles(snapshot));
        Assert.Equal("../../../blobs/" + repo["stories260K/tok512.bin"].Sha256, new FileInfo(Path.Combine(snapshot, "stories260K", "tok512.bin")).LinkTarget);
    }

    [Fact]
    public void A_cache_written_by_python_is_used_without_any_request()
    {
        using var hub = new HubFakeServer();
        using var tmp = Fixtures.NewTempDir();
        var repo = Repository();
        string commit = Commit("python"), tag = Commit("python-tag");
        // huggingface_hub's layout, built by hand: blobs by ETag, relative symlinks in snapshots, refs holding the sha.
        var repoDir = Path.Combine(tmp.Path, "models--tiny-org--tiny-llama");
        Directory.CreateDirectory(Path.Combine(repoDir, "blobs"));
        Directory.CreateDirectory(Path.Combine(repoDir, "refs"));
        foreach (var c in new[] { commit, tag })
        {
            Directory.CreateDirectory(Path.Combine(repoDir, "snapshots", c));
            foreach (var name in Kept(repo))
            {
                File.WriteAllBytes(Path.Combine(repoDir, "blobs", repo[name].ETag), repo[name].Content);
                File.CreateSymbolicLink(Path.Combine(repoDir, "snapshots", c, name), "../../blobs/" + repo[name].ETag);
            }
        }
        File.WriteAllText(Path.Combine(repoDir, "refs", "main"), commit);
        File.WriteAllText(Path.Combine(repoDir, "refs", "v1.0"), tag);
        hub.AddCommit(Repo, Commit("newer"), Repository(seed: 1), "main"); // the Hub moved on; the cache is still used

        var options = Options(hub, tmp.Path);
        Assert.Equal(Path.Combine(repoDir, "snapshots", commit), ModelLocator.Resolve(Repo, options).Path);
        Assert.Equal(Path.Combine(repoDir, "snapshots", tag), ModelLocator.Resolve(Repo + "@v1.0", options).Path);
        Assert.Equal(Path.Combine(repoDir, "snapshots", tag), ModelLocator.Resolve($"{Repo}@{tag}", options).Path);
        Assert.Empty(hub.Requests);
        // The loaders read through the symlinks (a FileInfo would describe the link, not the blob).
        using var lm = PretrainedCausalLM.Load(Path.Combine(repoDir, "snapshots", commit));
        Assert.Equal(2, lm.Config.NumHiddenLayers);
    }

    [Theory]
    [InlineData("org/name", "org/name", null, "main")]
    [InlineData("org/name@v1.0", "org/name", null, "v1.0")]
    [InlineData("karpathy/tinyllamas/stories260K", "karpathy/tinyllamas", "stories260K", "main")]
    [InlineData("org/name/a/b@refs/pr/1", "org/name", "a/b", "refs/pr/1")]
    public void Repo_ids_parse_into_repo_subfolder_and_revision(string text, string repo, string? subfolder, string revision)
    {
        Assert.True(HubRepoId.TryParse(text, out var id));
        Assert.Equal(new HubRepoId(repo, subfolder, revision), id);
    }

    [Theory]
    [InlineData("name")]
    [InlineData("org/../etc")]
    [InlineData("org/name@../../x")]
    [InlineData("org--x/name")]
    [InlineData("./local/folder")]
    public void Paths_and_unsafe_ids_are_not_repo_ids(string text) => Assert.False(HubRepoId.TryParse(text, out _));
}
