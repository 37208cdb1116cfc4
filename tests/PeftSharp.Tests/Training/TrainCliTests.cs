using System.Diagnostics;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Training;

/// <summary>`peftsharp train` end to end on the real stories260K and a slice of tinyshakespeare.</summary>
[Collection(GlobalRngCollection.Name)]
public class TrainCliTests
{
    /// <summary>A short QLoRA run config (absolute paths) writing to <paramref name="output"/>, evaluated every 4 steps.</summary>
    static string WriteConfig(TempDir tmp, string output, int maxSteps = 8, string extra = "") =>
        TrainYaml.Write(tmp, $"cfg-{Path.GetFileName(output)}.yaml", new TrainYaml.Options(TrainYaml.QLora(dropout: 0.1))
        {
            MaxSteps = maxSteps, GradientAccumulation = 2, WarmupSteps = 2, LoggingSteps = 2, SaveTotalLimit = 10, OutputDir = output,
            Extra = string.Join('\n', new[] { "val_set_size: 0.1", "eval_steps: 4", extra }.Where(l => l.Length > 0)),
        });

    [Fact]
    public void A_short_QLoRA_run_writes_adapter_metrics_plot_and_lowers_eval_loss()
    {
        using var tmp = Fixtures.NewTempDir();
        var output = Path.Combine(tmp.Path, "run");
        var r = CliRunner.Run("train", WriteConfig(tmp, output, maxSteps: 12));
        Assert.True(r.ExitCode == 0, r.Err + r.Out);
        foreach (var f in new[] { "adapter_config.json", "adapter_model.safetensors", "metrics.jsonl", "loss.png", "latest", "checkpoint-12/trainer_state.json", "checkpoint-12/optimizer.safetensors" })
            Assert.True(File.Exists(Path.Combine(output, f)), f);
        var evals = File.ReadLines(Path.Combine(output, "metrics.jsonl")).Where(l => l.Contains("\"eval\"")).ToList();
        Assert.True(evals.Count >= 3, string.Join("\n", evals));           // before training, step 4, step 8, end
        double Loss(string line) => double.Parse(line.Split("\"loss\":")[1].Split(',')[0], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(Loss(evals[^1]) < Loss(evals[0]), $"eval loss {Loss(evals[0])} -> {Loss(evals[^1])}");
        Assert.Contains("before training", r.Out);
        var g = CliRunner.Run("generate", "-m", Fixtures.Require("models", "stories260K"), "--adapter", output, "-n", "10");
        Assert.True(g.ExitCode == 0, g.Err);
    }

    [Fact]
    public void A_run_killed_mid_training_resumes_to_the_same_adapter_bit_for_bit()
    {
        using var tmp = Fixtures.NewTempDir();
        var straight = Path.Combine(tmp.Path, "straight");
        // 16 steps, killed once checkpoint-4 exists: the child has 12 steps left, far more than the kill takes.
        Assert.Equal(0, CliRunner.Run("train", WriteConfig(tmp, straight, maxSteps: 16)).ExitCode);

        var killed = Path.Combine(tmp.Path, "killed");
        var cfg = WriteConfig(tmp, killed, maxSteps: 16);
        var cli = Path.Combine(AppContext.BaseDirectory, "PeftSharp.Cli.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { cli, "train", cfg }) psi.ArgumentList.Add(a);
        using (var p = Process.Start(psi)!)
        {
            var until = DateTime.UtcNow.AddMinutes(2);
            while (!Directory.Exists(Path.Combine(killed, "checkpoint-4")) && !p.HasExited && DateTime.UtcNow < until) Thread.Sleep(20);
            Assert.False(p.HasExited, "the run finished before it could be killed");
            p.Kill(entireProcessTree: true); // SIGKILL: no chance to clean up
            p.WaitForExit();
        }
        Assert.False(File.Exists(Path.Combine(killed, "adapter_model.safetensors")));
        var resumed = CliRunner.Run("train", cfg, "--resume");
        Assert.True(resumed.ExitCode == 0, resumed.Err + resumed.Out);
        Assert.Contains("resumed from", resumed.Out);
        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "adapter_model.safetensors")),
                     File.ReadAllBytes(Path.Combine(killed, "adapter_model.safetensors")));
        // The metrics log reads as one run: each step once, with the uninterrupted run's losses.
        static List<(int, string, double)> Points(string dir) => PeftSharp.Training.MetricsLog.Read(Path.Combine(dir, "metrics.jsonl"))
            .Select(p => (p.Step, p.Split, p.Loss)).ToList();
        Assert.Equal(Points(straight), Points(killed));
    }

    [Fact]
    public void Starting_over_an_existing_run_without_resume_is_refused()
    {
        using var tmp = Fixtures.NewTempDir();
        var output = Path.Combine(tmp.Path, "run");
        var cfg = WriteConfig(tmp, output, maxSteps: 2);
        Assert.Equal(0, CliRunner.Run("train", cfg).ExitCode);
        var again = CliRunner.Run("train", cfg);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("--resume", again.Err);
    }

    [Theory]
    [InlineData("lerning_rate: 0.1", "did you mean 'learning_rate'")]
    [InlineData("num_epochs: two", "'num_epochs' must be an integer")]
    [InlineData("micro_batch_size: 3", "'micro_batch_size' appears twice")]
    [InlineData("optimizer: sgd", "optimizer 'sgd'")]
    [InlineData("lr_scheduler: step", "lr_scheduler 'step'")]
    public void Bad_config_keys_and_values_are_named(string line, string expected)
    {
        using var tmp = Fixtures.NewTempDir();
        var r = CliRunner.Run("train", WriteConfig(tmp, Path.Combine(tmp.Path, "run"), extra: line));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(expected, r.Err);
    }

    [Theory]
    [InlineData("--lora.r=0", "r must be a positive integer")]
    [InlineData("--learning_rate=.nan", "learning_rate")]
    [InlineData("--datasets=[]", "datasets")]
    public void Command_line_overrides_are_validated_too(string overrideArg, string expected)
    {
        using var tmp = Fixtures.NewTempDir();
        var r = CliRunner.Run("train", WriteConfig(tmp, Path.Combine(tmp.Path, "run")), overrideArg);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(expected, r.Err);
    }
}

[Collection(GlobalRngCollection.Name)]
public class TrainChatTemplateTests
{
    [Fact]
    public void Chat_data_uses_the_model_folders_chat_template_family()
    {
        using var tmp = Fixtures.NewTempDir();
        var folder = Path.Combine(tmp.Path, "model");
        Assert.Equal(0, CliRunner.Run("convert", "-m", Fixtures.Require("models", "stories260K"), "--out", folder).ExitCode);
        var records = Enumerable.Range(0, 6).Select(i =>
            $$"""{"messages": [{"role": "user", "content": "Tell me about the cat number {{i}}."}, {"role": "assistant", "content": "The cat {{i}} was happy and played in the sun."}]}""");
        File.WriteAllLines(tmp.File("chat.jsonl"), records);
        var yaml = $"""
            base_model: {folder}
            datasets:
              - path: {tmp.File("chat.jsonl")}
                format: messages
            sequence_len: 64
            micro_batch_size: 2
            max_steps: 2
            tensorboard: false
            output_dir: {Path.Combine(tmp.Path, "out")}
            """;
        File.WriteAllText(tmp.File("cfg.yaml"), yaml);
        // No chat_template anywhere: a clear error naming the option.
        var missing = CliRunner.Run("train", tmp.File("cfg.yaml"));
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("chat_template", missing.Err);
        // A ChatML Jinja template in the folder's tokenizer_config.json is recognised and used.
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"),
            """{"chat_template": "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"}""");
        var r = CliRunner.Run("train", tmp.File("cfg.yaml"));
        Assert.True(r.ExitCode == 0, r.Err + r.Out);
        Assert.True(File.Exists(Path.Combine(tmp.Path, "out", "adapter_model.safetensors")));
    }
}

[Collection(GlobalRngCollection.Name)]
public class FullFineTuneTests
{
    [Fact]
    public void Full_fine_tuning_writes_a_model_folder_that_generates_and_resumes()
    {
        using var tmp = Fixtures.NewTempDir();
        File.WriteAllText(tmp.File("slice.txt"), File.ReadAllText(Fixtures.Require("data", "tinyshakespeare.txt"))[..8_000]);
        var output = Path.Combine(tmp.Path, "full");
        File.WriteAllText(tmp.File("full.yaml"), $"""
            base_model: {Fixtures.Require("models", "stories260K")}
            adapter: none
            datasets:
              - path: {tmp.File("slice.txt")}
                format: text
                text_split: paragraph
            sequence_len: 64
            sample_packing: true
            micro_batch_size: 2
            max_steps: 4
            save_steps: 2
            learning_rate: 1.0e-3
            tensorboard: false
            output_dir: {output}
            """);
        var r = CliRunner.Run("train", tmp.File("full.yaml"));
        Assert.True(r.ExitCode == 0, r.Err + r.Out);
        Assert.Contains("training 260,032 parameters", r.Out);
        Assert.True(File.Exists(Path.Combine(output, "model", "model.safetensors")));
        Assert.True(File.Exists(Path.Combine(output, "checkpoint-2", "model", "model.safetensors")));
        var g = CliRunner.Run("generate", "-m", Path.Combine(output, "model"), "-n", "10");
        Assert.True(g.ExitCode == 0, g.Err);
        // The fine-tuned weights differ from the base.
        var plain = CliRunner.Run("generate", "-m", Fixtures.Require("models", "stories260K"), "-n", "30");
        var tuned = CliRunner.Run("generate", "-m", Path.Combine(output, "model"), "-n", "30");
        Assert.NotEqual(plain.Out, tuned.Out);

        var q = CliRunner.Run("train", tmp.File("full.yaml"), "--load_in_4bit=true", "--output_dir=" + Path.Combine(tmp.Path, "q"));
        Assert.Equal(1, q.ExitCode);
        Assert.Contains("full fine-tuning cannot update quantized weights", q.Err);
    }
}
