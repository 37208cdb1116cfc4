namespace PeftSharp.Tests.Support;

/// <summary>
/// `peftsharp train` YAMLs for the CLI tests: stories260K on a slice of tinyshakespeare split into paragraphs, packed
/// to 64 tokens, micro-batch 2, a checkpoint every 2 steps, no TensorBoard. What a test varies is an option; anything
/// else goes in <see cref="Options.Extra"/> as YAML lines.
/// </summary>
public static class TrainYaml
{
    /// <summary>QLoRA r 4 on q_proj, v_proj and down_proj, as the trainer tests run it.</summary>
    public static string QLora(double dropout) => $"""
        adapter: qlora
        lora:
          r: 4
          lora_alpha: 8
          lora_dropout: {dropout.ToString(System.Globalization.CultureInfo.InvariantCulture)}
          target_modules: [q_proj, v_proj, down_proj]
        """;

    /// <summary>The settings the tests differ in.</summary>
    public sealed record Options(string Adapter)
    {
        public int SliceChars { get; init; } = 20_000;
        public int MaxSteps { get; init; } = 4;
        public int GradientAccumulation { get; init; } = 1;
        public string LearningRate { get; init; } = "5.0e-3";
        public int WarmupSteps { get; init; }
        public int LoggingSteps { get; init; } = 1;
        public int? SaveTotalLimit { get; init; }
        public string? OutputDir { get; init; }
        public string Extra { get; init; } = "";
    }

    /// <summary>Writes the YAML (absolute paths) and the text slice into <paramref name="tmp"/>; returns the YAML's path.</summary>
    public static string Write(TempDir tmp, string fileName, Options o)
    {
        var slice = tmp.File("slice.txt");
        File.WriteAllText(slice, File.ReadAllText(Fixtures.Require("data", "tinyshakespeare.txt"))[..o.SliceChars]);
        var lines = new List<string>
        {
            $"base_model: {Fixtures.Require("models", "stories260K")}",
            o.Adapter,
            "datasets:",
            $"  - path: {slice}",
            "    format: text",
            "    text_split: paragraph",
            "sequence_len: 64",
            "sample_packing: true",
            "micro_batch_size: 2",
            $"gradient_accumulation_steps: {o.GradientAccumulation}",
            $"max_steps: {o.MaxSteps}",
            $"learning_rate: {o.LearningRate}",
            $"warmup_steps: {o.WarmupSteps}",
            $"logging_steps: {o.LoggingSteps}",
            "save_steps: 2",
            "tensorboard: false",
        };
        if (o.SaveTotalLimit is { } limit) lines.Add($"save_total_limit: {limit}");
        if (o.OutputDir is { } output) lines.Add($"output_dir: {output}");
        if (o.Extra.Length > 0) lines.Add(o.Extra);
        var path = tmp.File(fileName);
        File.WriteAllText(path, string.Join('\n', lines) + "\n");
        return path;
    }
}
