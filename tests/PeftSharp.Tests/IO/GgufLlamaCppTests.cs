using System.Diagnostics;
using System.Text.Json;
using PeftSharp.Tests.Cli;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.IO;

/// <summary>
/// Loads PeftSharp's GGUF exports of stories260K in llama.cpp itself (node-llama-cpp's prebuilt binaries, through
/// tools/llamacpp/greedy.mjs) and compares its greedy decoding from BOS with `peftsharp generate`. Needs node and
/// `npm ci` in tools/llamacpp, so it runs only with PEFTSHARP_LLAMACPP_CHECK=1.
/// </summary>
public class GgufLlamaCppTests
{
    static readonly string ToolDir = Path.Combine(Fixtures.RepoRoot, "tools", "llamacpp");

    static string LlamaCppGreedy(string model, string? lora = null)
    {
        var start = new ProcessStartInfo("node") { WorkingDirectory = ToolDir, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "greedy.mjs", model, "40" }.Concat(lora is null ? [] : [lora])) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(5)), "node greedy.mjs did not finish in 5 minutes");
        Assert.True(p.ExitCode == 0, $"node greedy.mjs failed: {stderr.Result}");
        using var doc = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        return doc.RootElement.GetProperty("text").GetString()!;
    }

    static string PeftSharpGreedy(params string[] model)
    {
        var r = CliRunner.Run(["generate", .. model, "-n", "40"]);
        Assert.True(r.ExitCode == 0, r.Err);
        return r.Out.Trim();
    }

    [Fact]
    public void Llama_cpp_decodes_the_exported_model_and_adapter_as_peftsharp_does()
    {
        if (Environment.GetEnvironmentVariable("PEFTSHARP_LLAMACPP_CHECK") != "1")
            Assert.Skip("set PEFTSHARP_LLAMACPP_CHECK=1 to run tools/llamacpp/greedy.mjs in llama.cpp (needs node 20 and `npm ci` in tools/llamacpp)");
        Assert.True(Directory.Exists(Path.Combine(ToolDir, "node_modules", "node-llama-cpp")), $"run `npm ci` in {ToolDir} first");
        var model = Fixtures.Require("models", "stories260K");
        using var tmp = Fixtures.NewTempDir();
        var expected = PeftSharpGreedy("-m", model);
        Assert.StartsWith("Once upon a time, there was a little girl named Lily.", expected);
        foreach (var type in new[] { "f32", "q8_0" })
        {
            var path = tmp.File($"stories-{type}.gguf");
            Assert.Equal(0, CliRunner.Run("export", "--format", "gguf", "-m", model, "--out", path, "--outtype", type).ExitCode);
            Assert.Equal(expected, LlamaCppGreedy(path).Trim());
        }

        var adapter = CliAdapterTests.SaveRandomAdapter(tmp, model);
        var lora = tmp.File("lora.gguf");
        Assert.Equal(0, CliRunner.Run("export", "--format", "gguf", "-m", model, "-a", adapter, "--adapter-only", "--out", lora, "--outtype", "f32").ExitCode);
        var adapted = PeftSharpGreedy("-m", model, "--adapter", adapter);
        Assert.NotEqual(expected, adapted);
        Assert.Equal(adapted, LlamaCppGreedy(tmp.File("stories-f32.gguf"), lora).Trim());
    }
}
