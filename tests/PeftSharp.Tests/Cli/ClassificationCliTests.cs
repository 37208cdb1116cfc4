using System.Text.Json;
using PeftSharp.Data.Classification;
using PeftSharp.Models;
using PeftSharp.Training;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Cli;

/// <summary>task: classification end to end on stories260K: train (LoRA + head, and full), eval, predict, reload.</summary>
public class ClassificationCliTests
{
    static readonly string[] Happy = { "happy", "glad", "smiled", "laughed", "fun" };
    static readonly string[] Sad = { "sad", "cried", "angry", "scared", "hurt" };
    static readonly string[] Names = { "Lily", "Tom", "Sue", "Ben", "Max", "Mia" };

    /// <summary>Short stories whose label shows in one word, so a working trainer must beat the 50% baseline clearly.</summary>
    static void WriteStories(string path, int count, int seed)
    {
        var rng = new Random(seed);
        var lines = new List<string> { "text\tlabel" };
        for (int i = 0; i < count; i++)
        {
            bool good = rng.Next(2) == 0;
            var word = (good ? Happy : Sad)[rng.Next(5)];
            lines.Add($"{Names[rng.Next(Names.Length)]} went to the park. She was very {word} that day.\t{(good ? "good" : "bad")}");
        }
        File.WriteAllLines(path, lines);
    }

    static string Config(TempDir dir, string adapter, string extra = "") =>
        $"""
        task: classification
        base_model: {Fixtures.Require("models", "stories260K")}
        datasets:
          - path: {dir.File("train.tsv")}
            eval_path: {dir.File("eval.tsv")}
        sequence_len: 64
        adapter: {adapter}
        {(adapter == "lora" ? "lora_r: 8\nlora_alpha: 16\nlora_target_modules: all-linear" : "")}
        micro_batch_size: 16
        max_steps: 40
        learning_rate: 1.0e-2
        warmup_steps: 4
        logging_steps: 20
        tensorboard: false
        output_dir: {dir.File("out")}
        {extra}
        """;

    [Fact]
    public void LoRA_classifier_trains_past_the_majority_baseline_then_evaluates_and_predicts()
    {
        using var dir = Fixtures.NewTempDir();
        WriteStories(dir.File("train.tsv"), 300, 1);
        WriteStories(dir.File("eval.tsv"), 60, 2);
        File.WriteAllText(dir.File("c.yaml"), Config(dir, "lora", "labels: [bad, good]"));
        var train = CliRunner.Run("train", dir.File("c.yaml"));
        Assert.True(train.ExitCode == 0, train.Err + train.Out);
        Assert.Contains("score head: new, 2 labels", train.Out);
        Assert.Contains("majority-class baseline on eval", train.Out);
        var last = MetricsLog.Read(dir.File("out/metrics.jsonl")).Last(p => p.Split == "eval");
        Assert.True(last.Metrics!["accuracy"] >= 0.9, $"eval accuracy {last.Metrics["accuracy"]}");

        // The adapter folder names its labels and carries the head (PEFT's SEQ_CLS layout).
        using (var config = JsonDocument.Parse(File.ReadAllText(dir.File("out/config.json"))))
        {
            Assert.Equal("good", config.RootElement.GetProperty("id2label").GetProperty("1").GetString());
            Assert.Equal("LlamaForSequenceClassification", config.RootElement.GetProperty("architectures")[0].GetString());
        }
        using (var adapterConfig = JsonDocument.Parse(File.ReadAllText(dir.File("out/adapter_config.json"))))
        {
            Assert.Equal("SEQ_CLS", adapterConfig.RootElement.GetProperty("task_type").GetString());
            Assert.Contains("score", adapterConfig.RootElement.GetProperty("modules_to_save").EnumerateArray().Select(e => e.GetString()));
        }

        var model = Fixtures.Require("models", "stories260K");
        var eval = CliRunner.Run("eval", "--task", "classification", "-m", model, "-a", dir.File("out"), "-d", dir.File("eval.tsv"), "-o", dir.File("report"));
        Assert.True(eval.ExitCode == 0, eval.Err + eval.Out);
        Assert.Contains("macro avg", eval.Out);
        using (var metrics = JsonDocument.Parse(File.ReadAllText(dir.File("report/metrics.json"))))
            Assert.Equal(last.Metrics["accuracy"], metrics.RootElement.GetProperty("accuracy").GetDouble(), 6);
        Assert.True(new FileInfo(dir.File("report/confusion_matrix.png")).Length > 1000);

        var predict = CliRunner.Run("predict", "-m", model, "-a", dir.File("out"), "--text", "Tom went to the park. She was very happy that day.",
            "--text", "Mia went to the park. She was very sad that day.");
        Assert.True(predict.ExitCode == 0, predict.Err);
        var lines = predict.Out.Trim().Split('\n').Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(new[] { "good", "bad" }, lines.Select(l => l.GetProperty("label").GetString()));
        foreach (var l in lines)
            Assert.Equal(1.0, l.GetProperty("probabilities").EnumerateObject().Sum(p => p.Value.GetDouble()), 4);

        // Batched predictions equal one text at a time (padding and pooling do not leak between rows).
        var batched = CliRunner.Run("predict", "-m", model, "-a", dir.File("out"), "-d", dir.File("eval.tsv"), "--batch-size", "16", "-o", dir.File("b.jsonl"));
        var single = CliRunner.Run("predict", "-m", model, "-a", dir.File("out"), "-d", dir.File("eval.tsv"), "--batch-size", "1", "-o", dir.File("s.jsonl"));
        Assert.True(batched.ExitCode == 0 && single.ExitCode == 0, batched.Err + single.Err);
        var b = File.ReadAllLines(dir.File("b.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("score").GetDouble()).ToList();
        var s = File.ReadAllLines(dir.File("s.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("score").GetDouble()).ToList();
        Assert.Equal(60, b.Count);
        for (int i = 0; i < b.Count; i++) Assert.Equal(s[i], b[i], 4);
    }

    [Fact]
    public void Full_fine_tuning_saves_an_HF_classifier_that_reloads_with_its_labels()
    {
        using var dir = Fixtures.NewTempDir();
        WriteStories(dir.File("train.tsv"), 64, 3);
        WriteStories(dir.File("eval.tsv"), 16, 4);
        File.WriteAllText(dir.File("c.yaml"), Config(dir, "full", "class_weights: balanced").Replace("max_steps: 40", "max_steps: 4"));
        var train = CliRunner.Run("train", dir.File("c.yaml"));
        Assert.True(train.ExitCode == 0, train.Err + train.Out);
        Assert.Contains("class weights: bad", train.Out);
        using var cls = PretrainedClassifier.Load(dir.File("out/model"));
        Assert.False(cls.NewHead);
        Assert.Equal(new[] { "bad", "good" }, cls.Model.Labels);
        var eval = CliRunner.Run("eval", "--task", "classification", "-m", dir.File("out/model"), "-d", dir.File("eval.tsv"));
        Assert.True(eval.ExitCode == 0, eval.Err + eval.Out);
        var last = MetricsLog.Read(dir.File("out/metrics.jsonl")).Last(p => p.Split == "eval");
        Assert.Contains($"accuracy {last.Metrics!["accuracy"]:F4}", eval.Out);
    }

    [Fact]
    public void A_base_model_without_a_head_or_labels_is_refused_with_the_fix()
    {
        using var dir = Fixtures.NewTempDir();
        WriteStories(dir.File("eval.tsv"), 4, 5);
        var r = CliRunner.Run("eval", "--task", "classification", "-m", Fixtures.Require("models", "stories260K"), "-d", dir.File("eval.tsv"));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("no classification head", r.Err);
        Assert.Contains("--adapter", r.Err);
    }
}
