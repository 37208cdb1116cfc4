using PeftSharp.Adapters.Lora;
using PeftSharp.Peft;
using static PeftSharp.Tests.Peft.LoraTestKit;

namespace PeftSharp.Tests.Peft;

/// <summary>Initialisation (adapted == base at init) and merge / unmerge of LoRA, rsLoRA, DoRA and embedding LoRA.</summary>
public class LoraInitAndMergeTests
{
    public static TheoryData<string> Variants => new() { "lora", "rslora", "dora", "dora_qwen2_bias", "patterns", "embedding" };

    static (string Type, LoraConfig Config) Variant(string name) => name switch
    {
        "lora" => ("llama", Config()),
        "rslora" => ("llama", new LoraConfig { TargetRegex = LoraConfig.AllLinear, R = 4, LoraAlpha = 16, UseRslora = true }),
        "dora" => ("llama", new LoraConfig { TargetRegex = LoraConfig.AllLinear, R = 4, LoraAlpha = 8, UseDora = true }),
        "dora_qwen2_bias" => ("qwen2", Config("q_proj", "k_proj", "v_proj", "o_proj") with { UseDora = true }),
        "patterns" => ("llama", new LoraConfig
        {
            TargetRegex = LoraConfig.AllLinear, R = 4, LoraAlpha = 8,
            RankPattern = new Dictionary<string, int> { ["q_proj"] = 2, ["down_proj"] = 6 },
            AlphaPattern = new Dictionary<string, double> { ["v_proj"] = 3 },
        }),
        "embedding" => ("llama", Config("embed_tokens", "q_proj")),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void At_default_init_the_adapted_model_equals_the_base_exactly(string variant)
    {
        var (type, config) = Variant(variant);
        var model = Tiny(type: type);
        var baseLogits = Logits(model);
        var peft = PeftModel.Create(model, config, seed: 1);
        Assert.Equal(0.0, MaxDiff(Logits(model), baseLogits));
        Assert.NotEmpty(peft.Adapters["default"].Layers);
    }

    [Fact]
    public void Gaussian_init_keeps_equality_and_false_init_changes_the_output()
    {
        var model = Tiny();
        var baseLogits = Logits(model);
        var gaussian = PeftModel.Create(model, Config("q_proj", "v_proj", "embed_tokens") with { InitLoraWeights = "gaussian" }, seed: 1);
        Assert.Equal(0.0, MaxDiff(Logits(model), baseLogits));
        var a = cat(gaussian.Adapters["default"].Layers.Select(l => l.Adapter).OfType<LoraLinear>().Select(l => l.A.weight.detach().flatten()).ToArray());
        double std = a.std().item<float>();
        Assert.InRange(std, 0.8 / 4, 1.2 / 4); // PEFT: normal with std 1/r, r = 4 (512 samples)

        var other = Tiny();
        var peft = PeftModel.Create(other, Config("q_proj", "v_proj", "embed_tokens") with { InitLoraWeights = "false" }, seed: 1);
        Assert.True(MaxDiff(Logits(other), baseLogits) > 1e-3, "init_lora_weights=false should make the adapter a real change");
        foreach (var l in peft.Adapters["default"].Layers)
        {
            if (l.Adapter is LoraLinear lin) Assert.True(lin.B.weight.abs().max().item<float>() > 0, $"{l.ModulePath}: B is zero");
            if (l.Adapter is LoraEmbedding emb) Assert.True(emb.A.abs().max().item<float>() > 0, $"{l.ModulePath}: A is zero");
        }
    }

    [Fact]
    public void Default_init_is_kaiming_uniform_A_within_one_over_sqrt_fan_in_and_zero_B()
    {
        var model = Tiny();
        var peft = PeftModel.Create(model, new LoraConfig { TargetRegex = LoraConfig.AllLinear, R = 8, LoraAlpha = 16 }, seed: 1);
        foreach (var l in peft.Adapters["default"].Layers)
        {
            var lora = (LoraLinear)l.Adapter;
            double bound = 1.0 / Math.Sqrt(lora.A.InFeatures);
            double max = lora.A.weight.abs().max().item<float>();
            Assert.True(max <= bound, $"{l.ModulePath}: |A| max {max} > 1/sqrt({lora.A.InFeatures}) = {bound}");
            Assert.True(max > 0.8 * bound, $"{l.ModulePath}: |A| max {max} does not fill the uniform range {bound}");
            Assert.True(lora.A.weight.mean().abs().item<float>() < 0.25 * bound, $"{l.ModulePath}: A is not centred");
            Assert.Equal(0f, lora.B.weight.abs().max().item<float>());
            Assert.Equal(2.0, lora.Scaling);
        }
        var emb = PeftModel.Create(Tiny(), Config("embed_tokens"), seed: 1).Adapters["default"].Layers.Single().Adapter as LoraEmbedding;
        Assert.Equal(0f, emb!.A.abs().max().item<float>()); // PEFT: embedding A zero, B normal
        Assert.InRange(emb.B.std().item<float>(), 0.7, 1.3);
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void Merged_output_equals_unmerged_and_unmerge_restores_every_base_weight(string variant)
    {
        var (type, config) = Variant(variant);
        var model = Tiny(type: type);
        var baseLogits = Logits(model);
        var before = Snapshot(model);
        var peft = PeftModel.Create(model, config, seed: 1);
        Randomize(peft, seed: 5, scale: 0.1);
        var unmerged = Logits(model);
        Assert.True(MaxDiff(unmerged, baseLogits) > 1e-3, "the randomised adapter should change the output");

        peft.Merge();
        Assert.True(peft.Adapters["default"].Merged);
        var merged = Logits(model);
        double mergeDiff = MaxDiff(merged, unmerged);
        Assert.True(mergeDiff < 1e-5, $"{variant}: merged vs unmerged logits differ by {mergeDiff}");
        Assert.Contains(before, kv => MaxDiff(kv.Value, Param(model, kv.Key)) > 1e-4); // the merge wrote into the base

        peft.Unmerge();
        foreach (var (name, original) in before)
        {
            double d = MaxDiff(Param(model, name), original);
            Assert.True(d < 1e-6, $"{variant}: after unmerge {name} differs from the original by {d}");
        }
        Assert.True(MaxDiff(Logits(model), unmerged) < 1e-5, "unmerged forward changed after a merge/unmerge cycle");
    }

    [Fact]
    public void Rank_and_alpha_patterns_and_rslora_set_per_module_scaling()
    {
        var (_, config) = Variant("patterns");
        var peft = PeftModel.Create(Tiny(), config, seed: 1);
        var layers = peft.Adapters["default"].Layers.ToDictionary(l => l.ModulePath, l => (LoraLinear)l.Adapter);
        Assert.Equal(14, layers.Count); // 7 Linear per layer, lm_head excluded
        Assert.Equal(2, layers["model.layers.0.self_attn.q_proj"].Rank);
        Assert.Equal(6, layers["model.layers.1.mlp.down_proj"].Rank);
        Assert.Equal(new long[] { 6, 48 }, layers["model.layers.1.mlp.down_proj"].A.weight.shape);
        Assert.Equal(3.0 / 4, layers["model.layers.0.self_attn.v_proj"].Scaling);
        Assert.Equal(8.0 / 4, layers["model.layers.0.self_attn.k_proj"].Scaling);
        var rs = PeftModel.Create(Tiny(), Variant("rslora").Config, seed: 1);
        Assert.All(rs.Adapters["default"].Layers, l => Assert.Equal(16 / Math.Sqrt(4), ((LoraLinear)l.Adapter).Scaling, 12));
    }
}
