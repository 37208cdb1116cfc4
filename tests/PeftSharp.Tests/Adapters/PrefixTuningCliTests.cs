using PeftSharp.Adapters.PrefixTuning;
using PeftSharp.Models;
using PeftSharp.Peft;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Adapters;

/// <summary>`adapter: prefix` with a `prefix_tuning:` section, end to end through the CLI, including resume.</summary>
[Collection(GlobalRngCollection.Name)]
public class PrefixTuningCliTests
{
    const string ProjectionYaml = """
        adapter: prefix
        prefix_tuning:
          num_virtual_tokens: 4
          prefix_projection: true
          encoder_hidden_size: 24
        """;

    [Fact]
    public void Trains_with_projection_saves_PEFTs_folded_folder_that_loads_back_and_generates()
    {
        using var tmp = Fixtures.NewTempDir();
        var output = Path.Combine(tmp.Path, "run");
        var text = PromptLearningCli.TrainLoadAndGenerate(tmp, output, ProjectionYaml);
        Assert.Contains("prefix tuning, 4 virtual tokens, projection folded (inference form)", text);
        var json = PromptLearningTestKit.ConfigJson(output);
        // stories260K: 5 layers, 4 kv heads of 8 -> token_dim 32, num_attention_heads 4
        Assert.Equal((32, 4, 5, 24), ((int)json["token_dim"]!, (int)json["num_attention_heads"]!, (int)json["num_layers"]!, (int)json["encoder_hidden_size"]!));
        Assert.Equal(new long[] { 4, 5 * 2 * 32 }, PromptLearningTestKit.SavedShapes(output)["prompt_embeddings"]);
        using var lm = PretrainedCausalLM.Load(PromptLearningCli.Model);
        var peft = AdapterFolder.Load(lm.Model, output);
        Assert.Equal(5, peft.Adapters["default"].Of<LayerPrefix>().Count());
    }

    [Fact]
    public void A_resumed_projection_run_loads_its_training_form_and_ends_as_the_straight_run()
    {
        using var tmp = Fixtures.NewTempDir();
        var straight = Path.Combine(tmp.Path, "straight");
        var a = CliRunner.Run("train", PromptLearningCli.WriteConfig(tmp, straight, ProjectionYaml, maxSteps: 4, name: "straight"));
        Assert.True(a.ExitCode == 0, a.Err + a.Out);
        Assert.Contains("prompt_encoder.transform.0.weight", PromptLearningTestKit.SavedShapes(Path.Combine(straight, "checkpoint-2")).Keys);

        var split = Path.Combine(tmp.Path, "split");
        var first = CliRunner.Run("train", PromptLearningCli.WriteConfig(tmp, split, ProjectionYaml, maxSteps: 2, name: "first"));
        Assert.True(first.ExitCode == 0, first.Err + first.Out);
        var resumed = CliRunner.Run("train", PromptLearningCli.WriteConfig(tmp, split, ProjectionYaml, maxSteps: 4, name: "second"), "--resume");
        Assert.True(resumed.ExitCode == 0, resumed.Err + resumed.Out);
        Assert.Contains("resumed from", resumed.Out);
        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "adapter_model.safetensors")),
                     File.ReadAllBytes(Path.Combine(split, "adapter_model.safetensors")));
    }

    [Fact]
    public void Flat_prefix_trains_and_generates()
    {
        using var tmp = Fixtures.NewTempDir();
        var text = PromptLearningCli.TrainLoadAndGenerate(tmp, Path.Combine(tmp.Path, "run"), "adapter: prefix\nprefix_tuning:\n  num_virtual_tokens: 3");
        Assert.Contains("prefix tuning, 3 virtual tokens, no projection", text);
    }
}
