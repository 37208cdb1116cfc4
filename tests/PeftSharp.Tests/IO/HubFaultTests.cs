using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using PeftSharp.IO.HuggingFace;
using PeftSharp.Tests.Support;
using static PeftSharp.Tests.IO.HubTestData;

namespace PeftSharp.Tests.IO;

/// <summary>Dropped connections resume, corrupted files are refused, and every failure says what to do.</summary>
public class HubFaultTests
{
    [Fact]
    public void A_dropped_connection_resumes_with_a_range_request()
    {
        using var s = new HubScene();
        var weights = s.Files["model.safetensors"];
        Assert.True(weights.Content.Length > 60_000);
        s.Hub.DropAfter(weights.Sha256, bytes: 40_000);

        var folder = ModelLocator.Resolve(Repo, s.Options).Path;

        var gets = s.Hub.Requests.Where(r => r.ToCdn && r.Path.EndsWith(weights.Sha256, StringComparison.Ordinal)).ToList();
        Assert.Equal(2, gets.Count);
        Assert.Null(gets[0].Header("Range"));
        var resumedAt = long.Parse(gets[1].Header("Range")!["bytes=".Length..].TrimEnd('-'));
        Assert.InRange(resumedAt, 1, 40_000);
        Assert.Equal(weights.Sha256, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(folder, "model.safetensors")))));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(s.RepoDir, "blobs"), "*.incomplete"));
    }

    [Fact]
    public void A_partial_file_left_by_an_earlier_run_is_resumed_not_restarted()
    {
        using var s = new HubScene();
        var weights = s.Files["model.safetensors"];
        Directory.CreateDirectory(Path.Combine(s.RepoDir, "blobs"));
        File.WriteAllBytes(Path.Combine(s.RepoDir, "blobs", weights.Sha256 + ".incomplete"), weights.Content[..30_000]);
        var events = new List<HubFileProgress>();

        var folder = ModelLocator.Resolve(Repo, s.Options with { Progress = p => { lock (events) events.Add(p); } }).Path;

        Assert.Equal("bytes=30000-", Assert.Single(s.Hub.Requests, r => r.ToCdn && r.Path.EndsWith(weights.Sha256, StringComparison.Ordinal)).Header("Range"));
        Assert.Equal(weights.Content, File.ReadAllBytes(Path.Combine(folder, "model.safetensors")));
        Assert.Contains(new HubFileProgress("model.safetensors", HubFileEvent.Started, 30_000, weights.Content.Length), events);
        Assert.Contains(new HubFileProgress("model.safetensors", HubFileEvent.Completed, weights.Content.Length, weights.Content.Length), events);
    }

    [Fact]
    public void A_connection_that_keeps_failing_gives_up_keeping_the_partial_file()
    {
        using var s = new HubScene();
        var weights = s.Files["model.safetensors"];
        s.Hub.DropAfter(weights.Sha256, bytes: 0, times: 100);

        var e = Assert.Throws<HubException>(() => ModelLocator.Resolve(Repo, s.Options));

        Assert.Contains("kept failing", e.Message);
        Assert.Contains("run the same command again to resume", e.Message);
        Assert.True(File.Exists(Path.Combine(s.RepoDir, "blobs", weights.Sha256 + ".incomplete")));
        Assert.False(Directory.Exists(Path.Combine(s.RepoDir, "snapshots")));
    }

    [Fact]
    public void A_corrupted_download_is_deleted_and_leaves_no_snapshot_or_ref()
    {
        using var s = new HubScene();
        var weights = s.Files["model.safetensors"];
        s.Hub.Corrupt(weights.Sha256);

        var e = Assert.Throws<HubException>(() => ModelLocator.Resolve(Repo, s.Options));

        Assert.Contains("corrupted", e.Message);
        Assert.Contains($"where the Hub's ETag says {weights.Sha256}", e.Message);
        Assert.Contains("run the command again", e.Message);
        Assert.False(Directory.Exists(Path.Combine(s.RepoDir, "snapshots")));
        Assert.False(Directory.Exists(Path.Combine(s.RepoDir, "refs")));
        Assert.DoesNotContain(Directory.EnumerateFiles(Path.Combine(s.RepoDir, "blobs")), f => f.Contains(weights.Sha256, StringComparison.Ordinal));
    }

    [Fact]
    public void A_blob_another_process_is_downloading_is_not_written_twice()
    {
        using var s = new HubScene();
        var incomplete = Path.Combine(s.RepoDir, "blobs", s.Files["model.safetensors"].Sha256 + ".incomplete");
        Directory.CreateDirectory(Path.GetDirectoryName(incomplete)!);
        using var other = new FileStream(incomplete, FileMode.Create, FileAccess.ReadWrite, FileShare.None); // what a running download holds

        var e = Assert.Throws<HubException>(() => ModelLocator.Resolve(Repo, s.Options));

        Assert.Contains("being downloaded by another process", e.Message);
        Assert.Contains("wait for it to finish", e.Message);
    }

    [Fact]
    public void A_cache_folder_that_cannot_be_written_names_the_folder_and_the_fix()
    {
        using var s = new HubScene();
        File.WriteAllText(s.Cache.File("not-a-folder"), "");

        var e = Assert.Throws<HubException>(() => ModelLocator.Resolve(Repo, s.Options with { CacheDir = Path.Combine(s.Cache.Path, "not-a-folder", "hub") }));

        Assert.Contains("could not write", e.Message);
        Assert.Contains("not-a-folder", e.Message);
        Assert.Contains("HF_HUB_CACHE", e.Message);
    }

    [Fact]
    public void Offline_mode_uses_the_cache_and_says_clearly_when_the_model_is_not_there()
    {
        using var s = new HubScene();
        var offline = s.Options with { Offline = true };

        var e = Assert.Throws<HubException>(() => ModelLocator.Resolve(Repo, offline));
        Assert.Contains("not in the Hugging Face cache", e.Message);
        Assert.Contains("HF_HUB_OFFLINE", e.Message);
        Assert.Contains($"peftsharp download {Repo}", e.Message);
        Assert.Empty(s.Hub.Requests);

        var online = ModelLocator.Resolve(Repo, s.Options).Path;
        s.Hub.ClearRequests();
        Assert.Equal(online, ModelLocator.Resolve(Repo, offline).Path);
        HubRepoId.TryParse(Repo, out var id);
        Assert.Equal(online, HubDownload.Model(id, offline));
        Assert.Empty(s.Hub.Requests);
    }

    [Fact]
    public void The_token_is_sent_as_bearer_to_the_hub_and_never_to_the_cdn()
    {
        using var s = new HubScene();
        s.Hub.RequireToken(Repo, "hf_secret");

        var anonymous = Assert.Throws<HubException>(() => ModelLocator.Resolve(Repo, s.Options));
        Assert.Equal(401, ((HubException)anonymous.InnerException!).StatusCode);
        Assert.Contains("restricted", anonymous.Message);
        Assert.Contains("set HF_TOKEN", anonymous.Message);
        var wrong = Assert.Throws<HubException>(() => ModelLocator.Resolve(Repo, s.Options with { Token = "hf_wrong" }));
        Assert.Contains("(403, gated or private)", wrong.Message);
        Assert.Contains("HF_TOKEN belongs to that account", wrong.Message);

        s.Hub.ClearRequests();
        ModelLocator.Resolve(Repo, s.Options with { Token = "hf_secret" });
        Assert.All(s.Hub.Requests.Where(r => !r.ToCdn), r => Assert.Equal("Bearer hf_secret", r.Header("Authorization")));
        Assert.Contains(s.Hub.Requests, r => r.ToCdn);
        Assert.All(s.Hub.Requests.Where(r => r.ToCdn), r => Assert.Null(r.Header("Authorization")));
    }

    [Theory]
    [InlineData("nobody/nothing", 401, "repo nobody/nothing was not found")]
    [InlineData(Repo + "@no-such-branch", 404, "revision 'no-such-branch' not found")]
    [InlineData(Repo + "/no-such-folder", null, "has no folder 'no-such-folder'")]
    public void Unknown_repos_revisions_and_folders_fail_with_what_to_check(string id, int? status, string expected)
    {
        using var s = new HubScene();

        var e = Assert.Throws<HubException>(() => ModelLocator.Resolve(id, s.Options));

        Assert.Contains($"model '{id}' is not a local path", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.Contains("check the", e.Message);
        Assert.Equal(status, ((HubException)e.InnerException!).StatusCode);
    }

    [Fact]
    public void An_unreachable_hub_suggests_offline_mode()
    {
        var closed = new TcpListener(IPAddress.Loopback, 0);
        closed.Start();
        int port = ((IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();
        using var tmp = Fixtures.NewTempDir();

        var e = Assert.Throws<HubException>(() => ModelLocator.Resolve(Repo, new HubOptions { Endpoint = $"http://127.0.0.1:{port}", CacheDir = tmp.Path }));

        Assert.Contains($"could not reach http://127.0.0.1:{port}", e.Message);
        Assert.Contains("HF_HUB_OFFLINE=1", e.Message);
    }
}
