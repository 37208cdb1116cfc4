using PeftSharp.Adapters.PromptTuning;
using PeftSharp.Peft;
using PeftSharp.Tests.Support;
using static PeftSharp.Tests.Adapters.PromptLearningTestKit;

namespace PeftSharp.Tests.Adapters;

/// <summary>A prompt-tuning folder written by Python PEFT 0.21 (5 random virtual tokens on the golden Llama), with PEFT's outputs.</summary>
public class PromptTuningGoldenTests
{
    static string Folder => Fixtures.Golden("methods", "prompt");

    [Fact]
    public void PEFT_folder_loads_and_gives_PEFTs_logits_and_greedy_tokens_with_and_without_cache()
    {
        var peft = AdapterFolder.Load(GoldenModel("llama"), Folder);
        var prompt = Assert.Single(peft.Adapters["default"].Of<PromptEmbedding>()).Adapter;
        Assert.Equal(5, prompt.Count);
        // PEFT's logits include the 5 virtual positions first; ours are the caller's 7.
        var diff = GoldenLogitsDiff(peft, Folder);
        Assert.True(diff < 1e-4, $"logits differ from PEFT's by {diff}");

        AssertGreedyMatchesPeft(peft, Folder);
    }

    [Fact]
    public void Our_save_has_PEFTs_key_shape_and_config_and_reloads_to_the_same_outputs()
    {
        AssertResaveMatchesPeft(Folder, "llama");
    }
}
