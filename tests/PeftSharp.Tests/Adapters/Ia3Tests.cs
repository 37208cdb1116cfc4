using System.Text.Json.Nodes;
using PeftSharp.Adapters.Ia3;
using PeftSharp.IO.SafeTensors;
using PeftSharp.Models.Llama;
using PeftSharp.Peft;
using PeftSharp.Tests.Support;
using static PeftSharp.Tests.Adapters.MethodTestKit;
using static PeftSharp.Tests.Peft.LoraTestKit;

namespace PeftSharp.Tests.Adapters;

public class Ia3Tests
{
    static Ia3Config Config() => new() { TargetModules = Ia3Config.LlamaTargets, FeedForwardModules = Ia3Config.LlamaFeedForward };

    /// <summary>Vectors set to 1 + 0.3·N(0, 1), so every entry matters.</summary>
    static void Randomize(PeftModel peft, long seed = 11) =>
        SetAdapterParameters(peft, (_, p, g) => p.copy_(1 + 0.3 * randn(p.shape, ScalarType.Float32, generator: g).to(p.dtype)), seed);

    [Fact]
    public void Python_PEFT_IA3_on_qwen2_loads_and_gives_PEFTs_logits_unmerged_and_merged()
    {
        var folder = Fixtures.Golden("methods", "ia3");
        var peft = AdapterFolder.Load(GoldenModel("qwen2"), folder);
        var model = (LlamaForCausalLM)peft.Model;
        Assert.IsType<Ia3Config>(peft.Adapters["default"].Config);
        using var golden = SafeTensorsFile.Open(Path.Combine(folder, "golden_logits.safetensors"));
        var ids = golden.Load("input_ids");
        var mask = golden.Load("attention_mask");
        using var _ = no_grad();
        // Compare the positions that hold real tokens (transformers leaves padded positions unspecified).
        var padded = mask.to(ScalarType.Bool).logical_not().unsqueeze(-1);
        double ValidDiff(Tensor a, Tensor b) => MaxDiff(a.masked_fill(padded, 0), b.masked_fill(padded, 0));
        var diff = ValidDiff(model.Forward(ids, mask), golden.Load("logits"));
        var baseDiff = ValidDiff(GoldenModel("qwen2").Forward(ids, mask), golden.Load("logits"));
        Assert.True(diff < 1e-4, $"adapted logits differ from PEFT's by {diff}");
        Assert.True(baseDiff > 1e-2, $"the adapter barely changes the logits ({baseDiff}): the test would not notice a missing adapter");
        peft.Merge();
        var mdiff = ValidDiff(model.Forward(ids, mask), golden.Load("merged_logits"));
        Assert.True(mdiff < 1e-4, $"merged logits differ from PEFT's by {mdiff}");
        TestContext.Current.TestOutputHelper?.WriteLine($"adapted {diff:E2}, merged {mdiff:E2}, base vs adapted {baseDiff:E2}");
    }

    [Fact]
    public void Saved_keys_shapes_and_config_fields_are_PEFTs()
    {
        var folder = Fixtures.Golden("methods", "ia3");
        var peft = PeftModel.Create(GoldenModel("qwen2"), Config());
        using var tmp = Fixtures.NewTempDir();
        AdapterFolder.Save(peft, tmp.Path);
        using (var ours = SafeTensorsFile.Open(tmp.File(AdapterFolder.WeightsFile)))
        using (var theirs = SafeTensorsFile.Open(Path.Combine(folder, AdapterFolder.WeightsFile)))
        {
            Assert.Equal(theirs.Keys.Order(), ours.Keys.Order());
            foreach (var k in theirs.Keys) Assert.Equal(theirs.GetInfo(k).Shape, ours.GetInfo(k).Shape);
        }
        var mine = JsonNode.Parse(File.ReadAllText(tmp.File(AdapterFolder.ConfigFile)))!.AsObject();
        var peftJson = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, AdapterFolder.ConfigFile)))!.AsObject();
        Assert.Equal(peftJson.Select(kv => kv.Key).Except(new[] { "auto_mapping", "peft_version" }).Order(), mine.Select(kv => kv.Key).Order());
        Assert.Equal("IA3", (string?)mine["peft_type"]);
        Assert.Equal(new[] { "down_proj" }, mine["feedforward_modules"]!.AsArray().Select(n => (string?)n));
    }

    [Fact]
    public void At_init_the_vectors_are_ones_and_outputs_equal_the_base()
    {
        var model = Tiny(type: "qwen2");
        var baseLogits = Logits(model);
        var peft = PeftModel.Create(model, Config());
        var layers = peft.Adapters["default"].Of<Ia3Linear>().ToList();
        Assert.Equal(6, layers.Count);
        foreach (var (path, l) in layers)
        {
            Assert.Equal(path.EndsWith("down_proj", StringComparison.Ordinal), l.FeedForward);
            Assert.Equal(l.FeedForward ? new long[] { 1, 48 } : new long[] { 16, 1 }, l.Vector.shape);
            Assert.Equal(1.0, l.Vector.min().item<float>());
            Assert.Equal(1.0, l.Vector.max().item<float>());
        }
        Assert.Equal(0.0, MaxDiff(Logits(peft), baseLogits));
        // k, v: 16 outputs each; down: 48 inputs; two layers
        Assert.StartsWith("trainable params: 160 ||", peft.TrainableReport());
    }

    [Fact]
    public void Gradients_of_input_and_output_vectors_match_finite_differences()
    {
        var model = Tiny(seed: 3, dtype: ScalarType.Float64, type: "qwen2");
        var peft = PeftModel.Create(model, Config());
        Randomize(peft);
        AssertGradientsMatchFiniteDifferences(model, new[]
        {
            ("model.layers.0.self_attn.k_proj.ia3_l.default", new long[] { 0, 7, 15 }),
            ("model.layers.1.self_attn.v_proj.ia3_l.default", new long[] { 2, 11 }),
            ("model.layers.0.mlp.down_proj.ia3_l.default", new long[] { 0, 20, 47 }),
            ("model.layers.1.mlp.down_proj.ia3_l.default", new long[] { 5, 33 }),
        });
    }

    [Fact]
    public void Merge_scales_weights_and_biases_and_unmerge_restores_them()
    {
        var model = Tiny(type: "qwen2");
        var before = Snapshot(model);
        var peft = PeftModel.Create(model, Config());
        Randomize(peft);
        var adapted = Logits(peft);
        peft.Merge();
        Assert.True(MaxDiff(Logits(peft), adapted) < 1e-5, "merged logits differ");
        var k = "model.layers.0.self_attn.k_proj";
        var l = Param(model, k + ".ia3_l.default").flatten();
        Assert.True(MaxDiff(Param(model, k + ".bias"), before[k + ".bias"] * l) < 1e-6, "k_proj's bias is not scaled");
        var d = "model.layers.1.mlp.down_proj";
        Assert.True(MaxDiff(Param(model, d + ".weight"), before[d + ".weight"] * Param(model, d + ".ia3_l.default")) < 1e-6, "down_proj's columns are not scaled");
        peft.Unmerge();
        foreach (var (name, t) in before)
            Assert.True(MaxDiff(Param(model, name), t) < 1e-6, $"{name} not restored by unmerge");
        Assert.True(MaxDiff(Logits(peft), adapted) < 1e-5);
    }

    [Fact]
    public void Save_then_load_gives_identical_outputs()
    {
        var peft = PeftModel.Create(Tiny(type: "qwen2"), Config());
        Randomize(peft);
        using var tmp = Fixtures.NewTempDir();
        var (before, after, loaded) = SaveAndReload(peft, () => Tiny(type: "qwen2"), tmp.Path);
        Assert.Equal(0.0, MaxDiff(before, after));
        Assert.Equal(Keys(tmp.File(AdapterFolder.WeightsFile)), new[]
        {
            "base_model.model.model.layers.0.mlp.down_proj.ia3_l", "base_model.model.model.layers.0.self_attn.k_proj.ia3_l", "base_model.model.model.layers.0.self_attn.v_proj.ia3_l",
            "base_model.model.model.layers.1.mlp.down_proj.ia3_l", "base_model.model.model.layers.1.self_attn.k_proj.ia3_l", "base_model.model.model.layers.1.self_attn.v_proj.ia3_l",
        });
        Assert.StartsWith("IA3, targets k_proj, v_proj, down_proj (feedforward: down_proj)", loaded.Adapters["default"].Config.Describe());
    }

    [Fact]
    public void Works_on_an_nf4_base_identity_at_init_and_trains()
    {
        var model = Tiny(seed: 5);
        QuantizeLinears(model);
        var baseLogits = Logits(model);
        var peft = PeftModel.Create(model, Config());
        Assert.Equal(0.0, MaxDiff(Logits(peft), baseLogits));
        Loss(model, Ids()).backward();
        foreach (var p in peft.TrainableParameters())
            Assert.True(p.grad is not null && p.grad.abs().sum().item<float>() > 0, "an IA3 vector got no gradient through the quantized base");
        Randomize(peft);
        var adapted = Logits(peft);
        Assert.True(MaxDiff(adapted, baseLogits) > 1e-3);
    }

    [Fact]
    public void Feedforward_modules_outside_the_targets_are_refused()
    {
        var bad = new Ia3Config { TargetModules = new[] { "k_proj", "v_proj" }, FeedForwardModules = new[] { "down_proj" } };
        var e = Assert.Throws<ConfigurationException>(() => bad.Validate());
        Assert.Contains("feedforward_modules must be a subset of target_modules", e.Message);
        Assert.Contains("'down_proj'", e.Message);
    }

    [Fact]
    public void Cli_trains_ia3_with_the_llama_defaults_and_the_folder_loads_back()
    {
        using var tmp = Fixtures.NewTempDir();
        var (output, loaded, _) = TrainWithCliAndReload(tmp, "adapter: ia3");
        var config = Assert.IsType<Ia3Config>(loaded.Adapters["default"].Config);
        Assert.Equal(Ia3Config.LlamaTargets, config.TargetModules);
        Assert.Equal(Ia3Config.LlamaFeedForward, config.FeedForwardModules);
        Assert.Contains("trainable params", output);
    }
}
