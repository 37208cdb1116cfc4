using PeftSharp.Adapters.PromptTuning;
using PeftSharp.Models;
using PeftSharp.Peft;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Adapters;

/// <summary>`adapter: prompt` with a `prompt_tuning:` section, end to end through the CLI.</summary>
[Collection(GlobalRngCollection.Name)]
public class PromptTuningCliTests
{
    [Fact]
    public void Trains_from_init_text_saves_a_PEFT_folder_that_loads_back_and_generates()
    {
        using var tmp = Fixtures.NewTempDir();
        var output = Path.Combine(tmp.Path, "run");
        var text = PromptLearningCli.TrainLoadAndGenerate(tmp, output, """
            adapter: prompt
            prompt_tuning:
              num_virtual_tokens: 6
              prompt_tuning_init: TEXT
              prompt_tuning_init_text: Once upon a time
            """);
        Assert.Contains("prompt tuning, 6 virtual tokens, init TEXT \"Once upon a time\"", text);
        var json = PromptLearningTestKit.ConfigJson(output);
        Assert.Equal("PROMPT_TUNING", (string)json["peft_type"]!);
        Assert.Equal(64, (int)json["token_dim"]!);
        Assert.Equal(PromptLearningCli.Model, (string)json["tokenizer_name_or_path"]!);
        Assert.Equal(new long[] { 6, 64 }, PromptLearningTestKit.SavedShapes(output)["prompt_embeddings"]);

        using var lm = PretrainedCausalLM.Load(PromptLearningCli.Model);
        var peft = AdapterFolder.Load(lm.Model, output);
        var prompt = peft.Adapters["default"].Of<PromptEmbedding>().Single().Adapter;
        // Trained away from its start: the init text's embeddings (BOS first, repeated to 6 tokens).
        var ids = PromptTuningConfig.FitToLength(lm.Tokenizer!.Encode("Once upon a time"), 6);
        Assert.Equal(1, ids[0]);
        var start = lm.Model.model.embed_tokens.weight.index_select(0, tensor(ids.Select(i => (long)i).ToArray()));
        var moved = (prompt.Weight - start).abs().max().item<float>();
        Assert.True(moved > 1e-4 && moved < 1, $"trained table moved {moved} from the init text's embeddings");
    }

    [Fact]
    public void Prompt_tuning_with_sample_packing_is_refused_clearly()
    {
        using var tmp = Fixtures.NewTempDir();
        var cfg = PromptLearningCli.WriteConfig(tmp, Path.Combine(tmp.Path, "run"), "adapter: prompt\nsample_packing: true", maxSteps: 1);
        var r = CliRunner.Run("train", cfg);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("sample_packing", r.Err);
    }
}
