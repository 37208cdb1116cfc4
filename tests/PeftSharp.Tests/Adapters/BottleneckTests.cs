using PeftSharp.Adapters.Bottleneck;
using PeftSharp.Peft;
using PeftSharp.Tests.Support;
using static PeftSharp.Tests.Adapters.MethodTestKit;
using static PeftSharp.Tests.Peft.LoraTestKit;
using Linear = PeftSharp.Nn.Linear;

namespace PeftSharp.Tests.Adapters;

public class BottleneckTests
{
    static BottleneckConfig Config(bool parallel = false, string act = "relu", double scaling = 1.0) =>
        new() { AdapterSize = 8, NonLinearity = act, UseParallelAdapter = parallel, Scaling = scaling };

    /// <summary>Every adapter tensor random (the up-projection included), so the adapter changes the output.</summary>
    static void Randomize(PeftModel peft, long seed = 11) =>
        SetAdapterParameters(peft, (_, p, g) => p.copy_(0.3 * randn(p.shape, ScalarType.Float32, generator: g).to(p.dtype)), seed);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void At_init_the_zero_up_projection_makes_the_model_its_base(bool parallel)
    {
        var model = Tiny();
        var baseLogits = Logits(model);
        var peft = PeftModel.Create(model, Config(parallel), seed: 1);
        Assert.Equal(0.0, MaxDiff(Logits(peft), baseLogits));
        var layers = peft.Adapters["default"].Of<BottleneckAdapter>().ToList();
        Assert.Equal(new[] { "model.layers.0.mlp.down_proj", "model.layers.0.self_attn.o_proj", "model.layers.1.mlp.down_proj", "model.layers.1.self_attn.o_proj" },
            layers.Select(l => l.Path).Order());
        Assert.All(layers, l => Assert.Equal(0.0, l.Adapter.Up.weight.abs().max().item<float>()));
        Assert.All(layers, l => Assert.True(l.Adapter.Down.weight.abs().max().item<float>() > 0));
        // o_proj 32 -> 32, down_proj 48 -> 32: down reads 32 (sequential: the output) or the input (parallel: 32 / 48).
        // per adapter: down (d·8 + 8) + up (8·32 + 32); two layers
        long expected = parallel ? 2 * ((32 * 8 + 8 + 8 * 32 + 32) + (48 * 8 + 8 + 8 * 32 + 32)) : 4 * (32 * 8 + 8 + 8 * 32 + 32);
        Assert.StartsWith($"trainable params: {expected:N0} ||", peft.TrainableReport());
    }

    [Theory]
    [InlineData(false, "relu", 1.0)]
    [InlineData(false, "tanh", 1.0)]
    [InlineData(true, "gelu", 2.0)]
    [InlineData(true, "silu", 0.5)]
    public void A_layer_computes_the_sequential_or_parallel_formula(bool parallel, string act, double scaling)
    {
        using var gen = new Generator().manual_seed(2);
        var host = new Linear(6, 5, hasBias: true);
        using (no_grad())
        {
            host.weight.normal_(0, 0.5, gen);
            host.bias!.normal_(0, 0.5, gen);
        }
        var a = new BottleneckAdapter(host, "default", 3, act, 0, parallel, scaling, gen);
        host.Adapters.SetActive(new[] { "default" });
        using (no_grad()) a.Up.weight.normal_(0, 0.5, gen);
        Assert.Equal(parallel ? 6 : 5, a.Down.InFeatures);
        var x = randn(new long[] { 4, 6 }, generator: gen);
        using var _ = no_grad();
        var y = nn.functional.linear(x, host.weight, host.bias);
        var h = nn.functional.linear(parallel ? x : y, a.Down.weight, a.Down.bias);
        h = act switch { "relu" => h.relu(), "tanh" => h.tanh(), "gelu" => nn.functional.gelu(h), _ => nn.functional.silu(h) };
        var expected = y + (parallel ? scaling : 1.0) * nn.functional.linear(h, a.Up.weight, a.Up.bias);
        Assert.True(MaxDiff(host.forward(x), expected) < 1e-6);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Gradients_of_both_projections_match_finite_differences(bool parallel)
    {
        var model = Tiny(seed: 3, dtype: ScalarType.Float64);
        var peft = PeftModel.Create(model, Config(parallel, "tanh", 1.5), seed: 5);
        Randomize(peft, seed: 9);
        AssertGradientsMatchFiniteDifferences(model, new[]
        {
            ("model.layers.0.self_attn.o_proj.adapter_down.default.weight", new long[] { 0, 45, 127 }),
            ("model.layers.0.self_attn.o_proj.adapter_down.default.bias", new long[] { 1, 7 }),
            ("model.layers.1.mlp.down_proj.adapter_up.default.weight", new long[] { 0, 100, 255 }),
            ("model.layers.1.mlp.down_proj.adapter_up.default.bias", new long[] { 3, 31 }),
            ("model.layers.1.mlp.down_proj.adapter_down.default.weight", new long[] { 2, 200 }),
        });
    }

    [Fact]
    public void Save_then_load_gives_identical_outputs_under_the_slot_names()
    {
        var peft = PeftModel.Create(Tiny(), Config(parallel: true, scaling: 2), seed: 1);
        Randomize(peft);
        using var tmp = Fixtures.NewTempDir();
        var (before, after, loaded) = SaveAndReload(peft, () => Tiny(), tmp.Path);
        Assert.Equal(0.0, MaxDiff(before, after));
        var keys = Keys(tmp.File(AdapterFolder.WeightsFile));
        Assert.Equal(16, keys.Count);
        Assert.Contains("base_model.model.model.layers.0.mlp.down_proj.adapter_down.weight", keys);
        Assert.Contains("base_model.model.model.layers.1.self_attn.o_proj.adapter_up.bias", keys);
        var config = Assert.IsType<BottleneckConfig>(loaded.Adapters["default"].Config);
        Assert.True(config.UseParallelAdapter);
        Assert.Equal(2.0, config.Scaling);
        Assert.Equal("bottleneck adapter (parallel, scaling 2), adapter_size 8, relu, dropout 0", config.Describe());
    }

    [Fact]
    public void Merge_is_refused_with_a_message_that_says_how_to_deploy_and_nothing_changes()
    {
        var model = Tiny();
        var before = Snapshot(model);
        var peft = PeftModel.Create(model, Config(), seed: 1);
        Randomize(peft);
        var logits = Logits(peft);
        var e = Assert.Throws<ConfigurationException>(() => peft.Merge());
        Assert.Contains("cannot be merged", e.Message);
        Assert.Contains("--adapter", e.Message);
        Assert.Throws<ConfigurationException>(() => peft.MergeAndUnload());
        Assert.False(peft.Adapters["default"].Merged);
        foreach (var (name, t) in before.Where(kv => !PeftModel.IsAdapterPath(kv.Key))) Assert.Equal(0.0, MaxDiff(Param(model, name), t));
        Assert.Equal(0.0, MaxDiff(Logits(peft), logits));
    }

    [Fact]
    public void Works_on_an_nf4_base()
    {
        var model = Tiny(seed: 5);
        QuantizeLinears(model);
        var baseLogits = Logits(model);
        var peft = PeftModel.Create(model, Config(), seed: 1);
        Assert.Equal(0.0, MaxDiff(Logits(peft), baseLogits));
        Randomize(peft);
        Loss(model, Ids()).backward();
        Assert.All(peft.TrainableParameters(), p => Assert.True(p.grad is not null && p.grad.abs().sum().item<float>() > 0));
    }

    [Fact]
    public void Bad_settings_are_refused_with_the_allowed_values()
    {
        var e = Assert.Throws<ConfigurationException>(() => Config(act: "swish").Validate());
        Assert.Contains("relu, gelu, tanh, silu", e.Message);
        Assert.Throws<ConfigurationException>(() => (Config() with { AdapterSize = 0 }).Validate());
    }

    [Fact]
    public void Cli_trains_a_bottleneck_adapter_and_the_folder_loads_back()
    {
        using var tmp = Fixtures.NewTempDir();
        var (_, loaded, _) = TrainWithCliAndReload(tmp, """
            adapter: bottleneck
            bottleneck:
              adapter_size: 16
              non_linearity: gelu
            """);
        var config = Assert.IsType<BottleneckConfig>(loaded.Adapters["default"].Config);
        Assert.Equal(16, config.AdapterSize);
        Assert.Equal(BottleneckConfig.DefaultTargets, config.TargetModules);
    }
}
