using PeftSharp.IO.SafeTensors;
using PeftSharp.Models;
using PeftSharp.Models.Llama;
using PeftSharp.Peft;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Peft;

/// <summary>Adapter folders written by Python PEFT 0.21 on the golden tiny Llama, with PEFT's own outputs.</summary>
public class PeftGoldenTests
{
    public static TheoryData<string> Variants => new() { "lora_qv", "dora_all_linear", "rslora_embed", "lora_patterns" };

    internal static LlamaForCausalLM GoldenLlama()
    {
        var dir = Fixtures.Golden("models", "llama");
        var model = new LlamaForCausalLM(LlamaConfig.FromFile(Path.Combine(dir, "config.json")));
        using var src = SafeTensorsCheckpoint.Open(dir);
        WeightLoader.Load(model, src, model.TiedKeys);
        return model;
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void Python_PEFT_adapters_load_and_give_PEFTs_outputs_unmerged_and_merged(string variant)
    {
        var folder = Fixtures.Golden("peft", variant);
        var peft = AdapterFolder.Load(GoldenLlama(), folder);
        var model = (LlamaForCausalLM)peft.Model;
        using var golden = SafeTensorsFile.Open(Path.Combine(folder, "golden_logits.safetensors"));
        var ids = golden.Load("input_ids");
        using var _ = no_grad();
        var adapted = model.Forward(ids);
        var diff = (adapted - golden.Load("logits")).abs().max().item<float>();
        Assert.True(diff < 1e-4, $"{variant}: adapted logits differ from PEFT's by {diff}");

        peft.Merge();
        var merged = model.Forward(ids);
        var mdiff = (merged - golden.Load("merged_logits")).abs().max().item<float>();
        Assert.True(mdiff < 1e-4, $"{variant}: merged logits differ from PEFT's by {mdiff}");
    }

    [Fact]
    public void Pattern_config_gives_per_module_rank_and_alpha()
    {
        var peft = AdapterFolder.Load(GoldenLlama(), Fixtures.Golden("peft", "lora_patterns"));
        var layers = peft.Adapters["default"].Layers.ToDictionary(l => l.ModulePath, l => (PeftSharp.Adapters.Lora.LoraLinear)l.Adapter);
        Assert.Equal(new[] { "model.layers.1.mlp.up_proj", "model.layers.1.self_attn.k_proj", "model.layers.1.self_attn.q_proj" }, layers.Keys.Order());
        Assert.Equal(2, layers["model.layers.1.self_attn.k_proj"].Rank);
        Assert.Equal(3.0 / 4, layers["model.layers.1.mlp.up_proj"].Scaling);
        Assert.Equal(8.0 / 4, layers["model.layers.1.self_attn.q_proj"].Scaling);
    }
}
