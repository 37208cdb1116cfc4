using System.Text.Json;
using PeftSharp.Models.Whisper;
using PeftSharp.Peft;
using PeftSharp.Tests.Data;
using PeftSharp.Tests.Support;
using PeftSharp.Training;

namespace PeftSharp.Tests.Cli;

/// <summary>task: asr end to end on a tiny random Whisper in HF layout: LoRA/QLoRA training on synthesized clips, eval WER/CER.</summary>
public class AsrCliTests
{
    /// <summary>Four tones with short transcripts: a fixed batch the adapter can learn.</summary>
    static string Clips(TempDir dir)
    {
        var rows = new[] { (220.0, "one"), (440.0, "two"), (660.0, "three"), (880.0, "four") }
            .Select(c => AsrTestClips.Row(Path.GetFileName(AsrTestClips.Tone(dir.File($"clip{c.Item1}.wav"), c.Item1)), c.Item2)).ToArray();
        return AsrTestClips.Manifest(dir.File("train.jsonl"), rows);
    }

    static string Config(TempDir dir, string model, string adapter, int steps) =>
        $"""
        task: asr
        base_model: {model}
        language: en
        datasets:
          - path: {dir.File("train.jsonl")}
            eval_path: {dir.File("train.jsonl")}
        adapter: {adapter}
        lora_r: 8
        lora_alpha: 16
        lora_target_modules: all-linear
        micro_batch_size: 4
        max_steps: {steps}
        learning_rate: 1.0e-2
        lr_scheduler: constant
        logging_steps: 1
        tensorboard: false
        output_dir: {dir.File("out-" + adapter)}
        """;

    [Fact]
    public void LoRA_on_encoder_and_decoder_drives_the_loss_down_and_eval_reports_wer_and_cer()
    {
        using var dir = Fixtures.NewTempDir();
        var model = TinyWhisper.WriteFolder(dir.File("whisper"), TinyWhisper.Random(seed: 3));
        Clips(dir);
        File.WriteAllText(dir.File("c.yaml"), Config(dir, model, "lora", 25));
        var train = CliRunner.Run("train", dir.File("c.yaml"));
        Assert.True(train.ExitCode == 0, train.Err + train.Out);
        Assert.Contains("4 train / 4 eval clips", train.Out);
        var points = MetricsLog.Read(dir.File("out-lora/metrics.jsonl")).ToList();
        var losses = points.Where(p => p.Split == "train").Select(p => p.Loss).ToList();
        Assert.True(losses[^1] < 0.3 * losses[0], $"loss {losses[0]:F3} -> {losses[^1]:F3}");
        var eval = points.Last(p => p.Split == "eval");
        Assert.True(eval.Metrics!.ContainsKey("wer") && eval.Metrics.ContainsKey("cer"));
        Assert.True(eval.Loss < points.First(p => p.Split == "eval").Loss);

        // LoRA landed in the encoder and the decoder (attention and MLP), not in the tied output projection.
        using (var cfg = JsonDocument.Parse(File.ReadAllText(dir.File("out-lora/adapter_config.json"))))
            Assert.Equal(JsonValueKind.Null, cfg.RootElement.GetProperty("task_type").ValueKind);
        using (var whisper = PretrainedWhisper.Load(model))
        {
            var peft = AdapterFolder.Load(whisper.Model, dir.File("out-lora"));
            var paths = peft.Adapters["default"].Layers.Select(l => l.ModulePath).ToList();
            Assert.Contains(paths, p => p.StartsWith("model.encoder.layers.0.self_attn.q_proj", StringComparison.Ordinal));
            Assert.Contains(paths, p => p.StartsWith("model.decoder.layers.1.encoder_attn.k_proj", StringComparison.Ordinal));
            Assert.Contains(paths, p => p.StartsWith("model.decoder.layers.0.fc2", StringComparison.Ordinal));
            Assert.DoesNotContain(paths, p => p.Contains("proj_out", StringComparison.Ordinal));
        }

        var r = CliRunner.Run("eval", "--task", "asr", "-m", model, "-a", dir.File("out-lora"), "-d", dir.File("train.jsonl"), "-o", dir.File("report"));
        Assert.True(r.ExitCode == 0, r.Err + r.Out);
        Assert.Contains("WER", r.Out);
        using var metrics = JsonDocument.Parse(File.ReadAllText(dir.File("report/metrics.json")));
        Assert.Equal(eval.Metrics["wer"], metrics.RootElement.GetProperty("wer").GetDouble(), 6);
        Assert.Equal(4, File.ReadAllLines(dir.File("report/transcripts.jsonl")).Length);
    }

    [Fact]
    public void QLoRA_on_a_4_bit_whisper_base_trains_too()
    {
        using var dir = Fixtures.NewTempDir();
        var model = TinyWhisper.WriteFolder(dir.File("whisper"), TinyWhisper.Random(seed: 4));
        Clips(dir);
        File.WriteAllText(dir.File("c.yaml"), Config(dir, model, "qlora", 12) + "\neval_wer: false\n");
        var train = CliRunner.Run("train", dir.File("c.yaml"));
        Assert.True(train.ExitCode == 0, train.Err + train.Out);
        var losses = MetricsLog.Read(dir.File("out-qlora/metrics.jsonl")).Where(p => p.Split == "train").Select(p => p.Loss).ToList();
        Assert.True(losses[^1] < 0.5 * losses[0], $"loss {losses[0]:F3} -> {losses[^1]:F3}");
    }
}
