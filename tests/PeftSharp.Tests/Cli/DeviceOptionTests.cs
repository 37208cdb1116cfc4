using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Cli;

/// <summary>--device and the YAML device: key, as a user on a machine without a GPU meets them.</summary>
public sealed class DeviceOptionTests
{
    [Fact]
    public void Generate_runs_on_the_cpu_when_asked_by_name_or_by_auto()
    {
        Assert.SkipWhen(TorchSharp.torch.cuda.is_available(), "a GPU is visible here: auto would pick it");
        var model = Fixtures.Require("models", "stories260K");
        foreach (var device in new[] { "cpu", "auto" })
        {
            var r = CliRunner.Run("generate", "-m", model, "-n", "12", "--device", device);
            Assert.True(r.ExitCode == 0, r.Err);
            Assert.Contains("Once upon a time, there was a little girl", r.Out);
        }
    }

    [Theory]
    [InlineData("cuda:0", "PeftSharpTorchBackend=cuda")]
    [InlineData("tpu", "cpu, cuda, cuda:N or auto")]
    public void A_device_this_machine_cannot_use_is_one_error_line_before_any_model_loads(string device, string hint)
    {
        Assert.SkipWhen(TorchSharp.torch.cuda.is_available(), "a GPU is visible here");
        var r = CliRunner.Run("generate", "-m", "/nonexistent/model", "-n", "5", "--device", device);
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("error: ", r.Err);
        Assert.Contains(hint, r.Err);
        Assert.Equal("", r.Out);
    }

    [Fact]
    public void The_yaml_device_key_is_checked_while_the_config_is_read()
    {
        Assert.SkipWhen(TorchSharp.torch.cuda.is_available(), "a GPU is visible here");
        using var tmp = Fixtures.NewTempDir();
        File.WriteAllText(Path.Combine(tmp.Path, "data.txt"), "one two three\n\nfour five six\n");
        var yaml = Path.Combine(tmp.Path, "run.yaml");
        File.WriteAllText(yaml, $"""
            base_model: /nonexistent/model
            device: cuda
            datasets:
              - path: data.txt
                format: text
            output_dir: {Path.Combine(tmp.Path, "out")}
            """);
        var r = CliRunner.Run("train", yaml);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("device", r.Err);
        Assert.Contains("--device cpu", r.Err);
        Assert.False(Directory.Exists(Path.Combine(tmp.Path, "out")));
    }
}
