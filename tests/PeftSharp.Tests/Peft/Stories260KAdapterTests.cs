using PeftSharp.Adapters.Lora;
using PeftSharp.Generation;
using PeftSharp.Models;
using PeftSharp.Models.Llama;
using PeftSharp.Peft;
using PeftSharp.Tests.Support;
using static PeftSharp.Tests.Peft.LoraTestKit;

namespace PeftSharp.Tests.Peft;

/// <summary>The whole adapter life cycle on the real stories260K: inject, save, load, merge, export, reload, generate.</summary>
public class Stories260KAdapterTests
{
    static int[] Greedy(LlamaForCausalLM model) =>
        new TextGenerator(model).Generate(new[] { 1 }, new SamplingOptions { MaxNewTokens = 40 }).NewIds.ToArray();

    [Fact]
    public void Saved_loaded_merged_and_exported_adapter_generates_what_the_unmerged_adapter_generates()
    {
        var folder = Fixtures.Require("models", "stories260K");
        using var basePretrained = PretrainedCausalLM.Load(folder);
        var baseIds = Greedy(basePretrained.Model);

        using var adaptedPretrained = PretrainedCausalLM.Load(folder);
        var peft = PeftModel.Create(adaptedPretrained.Model, new LoraConfig { TargetRegex = LoraConfig.AllLinear, R = 4, LoraAlpha = 8 }, seed: 1);
        Assert.Equal(5 * 7, peft.Adapters["default"].Layers.Count);
        Randomize(peft, seed: 2, scale: 0.05);
        var adaptedIds = Greedy(adaptedPretrained.Model);
        Assert.NotEqual(baseIds, adaptedIds);

        using var dir = Fixtures.NewTempDir();
        var adapterDir = Path.Combine(dir.Path, "adapter");
        AdapterFolder.Save(peft, adapterDir, "stories260K");

        using var fresh = PretrainedCausalLM.Load(folder);
        var loaded = AdapterFolder.Load(fresh.Model, adapterDir);
        Assert.Equal(adaptedIds, Greedy(fresh.Model));
        var merged = (LlamaForCausalLM)loaded.MergeAndUnload();
        Assert.DoesNotContain(merged.state_dict().Keys, k => k.Contains("lora_", StringComparison.Ordinal));
        var exportDir = Path.Combine(dir.Path, "merged");
        ModelFolderWriter.Save(merged, exportDir, fresh.TokenizerFiles());

        using var exported = PretrainedCausalLM.Load(exportDir);
        Assert.Equal(adaptedIds, Greedy(exported.Model));
        Assert.NotEqual(baseIds, Greedy(exported.Model));
    }
}
