using PeftSharp.Adapters.PrefixTuning;
using PeftSharp.Peft;
using PeftSharp.Tests.Support;
using static PeftSharp.Tests.Adapters.PromptLearningTestKit;

namespace PeftSharp.Tests.Adapters;

/// <summary>Prefix-tuning folders written by Python PEFT 0.21 (flat MHA, flat GQA+bias, projection saved folded), with PEFT's outputs.</summary>
public class PrefixTuningGoldenTests
{
    public static TheoryData<string> Methods => new() { "prefix_llama", "prefix_qwen2", "prefix_projection" };

    [Theory]
    [MemberData(nameof(Methods))]
    public void PEFT_folders_load_and_give_PEFTs_logits_and_greedy_tokens_with_and_without_cache(string method)
    {
        var folder = Fixtures.Golden("methods", method);
        var peft = AdapterFolder.Load(GoldenModel(KindOf(method)), folder);
        var prefix = peft.Adapters["default"].Of<LayerPrefix>().ToList();
        Assert.Equal(2, prefix.Count);
        Assert.False(prefix[0].Adapter.Encoder.Projection); // a saved (inference_mode) config builds the flat form
        var diff = GoldenLogitsDiff(peft, folder);
        Assert.True(diff < 1e-4, $"{method}: logits differ from PEFT's by {diff}");

        AssertGreedyMatchesPeft(peft, folder);
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void Our_save_has_PEFTs_keys_shapes_and_config_and_reloads_to_the_same_outputs(string method)
    {
        AssertResaveMatchesPeft(Fixtures.Golden("methods", method), KindOf(method));
    }

    [Fact]
    public void PEFTs_own_training_form_and_folded_form_agree()
    {
        var folder = Fixtures.Golden("methods", "prefix_projection");
        var peft = AdapterFolder.Load(GoldenModel("llama"), folder);
        Assert.True(GoldenLogitsDiff(peft, folder, "training_form_logits") < 1e-4);
    }
}
