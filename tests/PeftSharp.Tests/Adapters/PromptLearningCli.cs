using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Adapters;

/// <summary>Short `peftsharp train` runs with a prompt-learning method on stories260K, for the CLI tests.</summary>
internal static class PromptLearningCli
{
    public static string Model => Fixtures.Require("models", "stories260K");

    /// <summary>A config training <paramref name="adapterYaml"/> (the adapter: line and its section) into <paramref name="output"/>.</summary>
    public static string WriteConfig(TempDir tmp, string output, string adapterYaml, int maxSteps, string name = "cfg")
    {
        var text = File.ReadAllText(Fixtures.Require("data", "tinyshakespeare.txt"))[..6_000];
        File.WriteAllText(tmp.File("slice.txt"), text);
        var yaml = $"""
            base_model: {Model}
            {adapterYaml}
            datasets:
              - path: {tmp.File("slice.txt")}
                format: text
                text_split: paragraph
            sequence_len: 32
            micro_batch_size: 2
            max_steps: {maxSteps}
            learning_rate: 1.0e-2
            lr_scheduler: constant
            logging_steps: 1
            save_steps: 2
            save_total_limit: 10
            tensorboard: false
            output_dir: {output}
            """;
        var path = tmp.File(name + ".yaml");
        File.WriteAllText(path, yaml);
        return path;
    }

    /// <summary>Trains, then checks the folder loads back and `generate --adapter` runs; returns the train output.</summary>
    public static string TrainLoadAndGenerate(TempDir tmp, string output, string adapterYaml)
    {
        var r = CliRunner.Run("train", WriteConfig(tmp, output, adapterYaml, maxSteps: 4));
        Assert.True(r.ExitCode == 0, r.Err + r.Out);
        Assert.True(File.Exists(Path.Combine(output, "adapter_model.safetensors")));
        var inspect = CliRunner.Run("inspect", "-m", Model, "--adapter", output);
        Assert.True(inspect.ExitCode == 0, inspect.Err);
        var g = CliRunner.Run("generate", "-m", Model, "--adapter", output, "-p", "Once upon a time", "-n", "10");
        Assert.True(g.ExitCode == 0, g.Err);
        Assert.StartsWith("Once upon a time", g.Out);
        return r.Out + inspect.Out;
    }
}
