using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.IO;

/// <summary>
/// `peftsharp download` and `--model org/name` against the fake Hub. The CLI reads HF_* from its environment, so these
/// run it as a child process with its own environment (no race with tests that set variables in this process).
/// </summary>
public class HubCliTests
{
    const string KnownStart = "Once upon a time, there was a little girl named Lily.";

    static Dictionary<string, string> Environment(HubFakeServer hub, string home) => new()
    {
        ["HF_ENDPOINT"] = hub.Endpoint,
        ["HF_HOME"] = home,
        ["HF_HUB_CACHE"] = Path.Combine(home, "hub"),
        ["HF_TOKEN"] = "",
        ["HF_HUB_OFFLINE"] = "",
    };

    [Fact]
    public void Download_then_generate_from_a_repo_subfolder_of_llama2c_files()
    {
        var repo = HubTestData.TinyLlamas();
        using var hub = new HubFakeServer();
        using var tmp = Fixtures.NewTempDir();
        var commit = HubTestData.Commit("tinyllamas");
        hub.AddCommit("karpathy/tinyllamas", commit, repo, "main");
        var env = Environment(hub, tmp.Path);

        var download = CliProcess.Run(tmp.Path, env, null, "download", "karpathy/tinyllamas/stories260K");
        Assert.True(download.ExitCode == 0, download.Output);
        var folder = Path.Combine(tmp.Path, "hub", "models--karpathy--tinyllamas", "snapshots", commit, "stories260K");
        Assert.Contains(folder, download.Output.Split('\n').Select(l => l.Trim()));
        Assert.Contains("stories260K/tok512.bin:", download.Output); // one plain progress line per file (stderr is not a terminal)
        Assert.True(File.Exists(Path.Combine(folder, "tok512.bin")));

        hub.ClearRequests();
        var generate = CliProcess.Run(tmp.Path, env, null, "generate", "-m", "karpathy/tinyllamas/stories260K", "-n", "40");
        Assert.True(generate.ExitCode == 0, generate.Output);
        Assert.Contains(KnownStart, generate.Output);
        Assert.Empty(hub.Requests); // the cache served it

        // A base_model candidate list takes the repo id the cache holds over a later entry; the run then stops at the missing data.
        File.WriteAllText(tmp.File("train.yaml"), $"""
            base_model: [karpathy/tinyllamas/stories260K, {tmp.File("no-such-model")}]
            adapter: lora
            output_dir: {tmp.File("out")}
            datasets:
              - path: {tmp.File("no-such-data.jsonl")}
            """);
        var train = CliProcess.Run(tmp.Path, env, null, "train", tmp.File("train.yaml"));
        Assert.Equal(1, train.ExitCode);
        Assert.Contains("no-such-data.jsonl", train.Output);
        Assert.DoesNotContain("no-such-model", train.Output);
        Assert.Empty(hub.Requests);
    }

    [Fact]
    public void Download_honours_cache_dir_and_include_and_a_missing_repo_fails_with_one_error_line()
    {
        using var hub = new HubFakeServer();
        using var tmp = Fixtures.NewTempDir();
        var repo = HubTestData.Repository();
        hub.AddCommit(HubTestData.Repo, HubTestData.Commit("first"), repo, "main");
        var env = Environment(hub, tmp.Path);
        var cache = Path.Combine(tmp.Path, "elsewhere");

        var download = CliProcess.Run(tmp.Path, env, null, "download", HubTestData.Repo, "--cache-dir", cache, "--include", "*.md");
        Assert.True(download.ExitCode == 0, download.Output);
        var snapshot = Path.Combine(cache, "models--tiny-org--tiny-llama", "snapshots", HubTestData.Commit("first"));
        Assert.Equal(HubTestData.Kept(repo).Append("README.md").Order(StringComparer.Ordinal), HubTestData.SnapshotFiles(snapshot));

        var missing = CliProcess.Run(tmp.Path, env, null, "generate", "-m", "does/not-exist");
        Assert.Equal(1, missing.ExitCode);
        var error = Assert.Single(missing.Output.Split('\n'), l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.StartsWith("error: model 'does/not-exist' is not a local path and is not in the Hugging Face cache", error);
        Assert.Contains("check the id", error);
    }
}
