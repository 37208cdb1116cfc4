using System.Text.Json.Nodes;
using PeftSharp.Adapters.Lora;
using PeftSharp.Adapters.Sora;
using PeftSharp.IO.SafeTensors;
using PeftSharp.Peft;
using PeftSharp.Tests.Support;
using static PeftSharp.Tests.Adapters.MethodTestKit;
using static PeftSharp.Tests.Peft.LoraTestKit;

namespace PeftSharp.Tests.Adapters;

public class SoraTests
{
    static SoraConfig Config(double sparseLambda = 0.1) =>
        new() { TargetModules = new[] { "q_proj", "v_proj", "down_proj" }, R = 4, LoraAlpha = 8, SparseLambda = sparseLambda };

    /// <summary>A, B and the gates all random (B non-zero), so the adapter changes the output.</summary>
    static void Randomize(PeftModel peft, long seed = 11) =>
        SetAdapterParameters(peft, (path, p, g) => p.copy_((path.Contains("sora_gate") ? 1.0 : 0.2) * randn(p.shape, ScalarType.Float32, generator: g).to(p.dtype)), seed);

    static SoraTraining Training(PeftModel peft) => (SoraTraining)peft.ActiveTraining!;

    static List<SoraLinear> Layers(PeftModel peft) => peft.Adapters["default"].Of<SoraLinear>().Select(x => x.Adapter).ToList();

    [Fact]
    public void At_init_the_output_equals_the_base_and_the_parameter_count_is_LoRAs_plus_the_gates()
    {
        var model = Tiny();
        var baseLogits = Logits(model);
        var peft = PeftModel.Create(model, Config(), seed: 1);
        Assert.Equal(0.0, MaxDiff(Logits(peft), baseLogits));
        var gate = Layers(peft)[0].Gate;
        Assert.Equal(new long[] { 1, 4 }, gate.shape);
        Assert.True(gate.abs().min().item<float>() > 0, "gates start non-zero (standard normal)");
        // q: 4·(32+32), v: 4·(32+16), down: 4·(48+32), + 4 gate entries each; two layers
        Assert.StartsWith("trainable params: 1,560 ||", peft.TrainableReport());
        Assert.StartsWith("SoRA, r 4 (max), lora_alpha 8", peft.Adapters["default"].Config.Describe());
    }

    [Fact]
    public void Gradients_of_A_B_and_the_gate_match_finite_differences()
    {
        var model = Tiny(seed: 3, dtype: ScalarType.Float64);
        var peft = PeftModel.Create(model, Config(), seed: 5);
        Randomize(peft, seed: 9);
        AssertGradientsMatchFiniteDifferences(model, new[]
        {
            ("model.layers.0.self_attn.q_proj.lora_A.default.weight", new long[] { 0, 45, 127 }),
            ("model.layers.1.self_attn.v_proj.lora_B.default.weight", new long[] { 0, 13, 31 }),
            ("model.layers.1.mlp.down_proj.lora_A.default.weight", new long[] { 3, 150 }),
            ("model.layers.0.self_attn.q_proj.sora_gate.default", new long[] { 0, 1, 2, 3 }),
            ("model.layers.1.mlp.down_proj.sora_gate.default", new long[] { 0, 3 }),
        });
    }

    [Fact]
    public void The_proximal_step_soft_thresholds_the_gates_by_lambda_times_lr()
    {
        var peft = PeftModel.Create(Tiny(), Config(sparseLambda: 2.0), seed: 1);
        Randomize(peft);
        var before = Layers(peft).Select(l => l.Gate.detach().clone()).ToList();
        var training = Training(peft);
        training.Begin(10);
        training.AfterOptimizerStep(0, learningRate: 0.4); // threshold 0.8
        foreach (var (l, g0) in Layers(peft).Zip(before))
        {
            var expected = g0.sign() * (g0.abs() - 0.8).clamp_min(0);
            Assert.Equal(0.0, MaxDiff(l.Gate, expected));
        }
        var metrics = training.Metrics();
        long live = Layers(peft).Sum(l => l.LiveRanks().Length);
        Assert.True(live > 0 && live < 24, $"{live} of 24 gates survive: the test wants some of each");
        Assert.Equal(live, metrics["sora_rank"]);
        Assert.Equal(2.0 * Layers(peft).Sum(l => l.Gate.abs().sum().item<float>()), metrics["sora_l1"], 4);
        Assert.True(training.ExcludeFromWeightDecay("model.layers.0.self_attn.q_proj.sora_gate.default"));
        Assert.False(training.ExcludeFromWeightDecay("model.layers.0.self_attn.q_proj.lora_A.default.weight"));
    }

    [Fact]
    public void Pruned_export_is_a_smaller_LoRA_adapter_with_the_gated_models_outputs()
    {
        var peft = PeftModel.Create(Tiny(), Config(sparseLambda: 1.0), seed: 1);
        Randomize(peft);
        Training(peft).AfterOptimizerStep(0, learningRate: 0.8);
        var dead = peft.Adapters["default"].Layers.First(l => l.ModulePath == "model.layers.1.self_attn.v_proj");
        using (no_grad()) ((SoraLinear)dead.Adapter).Gate.zero_();
        var ranks = peft.Adapters["default"].Of<SoraLinear>().ToDictionary(x => x.Path, x => x.Adapter.LiveRanks().Length);
        using var tmp = Fixtures.NewTempDir();
        var notes = new List<string>();
        (Tensor Before, Tensor After, PeftModel Loaded) r;
        using (PeftSharp.Diagnostics.RedirectInfo(notes.Add)) r = SaveAndReload(peft, () => Tiny(), tmp.Path);

        Assert.True(MaxDiff(r.Before, r.After) < 1e-5, $"pruned LoRA differs from the gated SoRA by {MaxDiff(r.Before, r.After)}");
        var config = Assert.IsType<LoraConfig>(r.Loaded.Adapters["default"].Config);
        var json = JsonNode.Parse(File.ReadAllText(tmp.File(AdapterFolder.ConfigFile)))!.AsObject();
        Assert.Equal("LORA", (string?)json["peft_type"]);
        Assert.DoesNotContain("model.layers.1.self_attn.v_proj", config.TargetModules!);
        Assert.Equal(5, config.TargetModules!.Count);
        using var file = SafeTensorsFile.Open(tmp.File(AdapterFolder.WeightsFile));
        Assert.DoesNotContain(file.Keys, k => k.Contains("sora_gate") || k.Contains("layers.1.self_attn.v_proj"));
        foreach (var (path, rank) in ranks.Where(kv => kv.Value > 0))
        {
            Assert.Equal(rank, file.GetInfo(PeftKeys.Prefix + path + ".lora_A.weight").Shape[0]);
            Assert.Equal(rank, file.GetInfo(PeftKeys.Prefix + path + ".lora_B.weight").Shape[1]);
            Assert.Equal(rank, TargetMatcher(config, path));
        }
        Assert.True(ranks.Values.Any(v => v is > 0 and < 4), "the test wants a partly pruned module");
        Assert.Contains(notes, n => n.Contains("surviving rank per module") && n.Contains("model.layers.1.self_attn.v_proj 0"));
    }

    static int TargetMatcher(LoraConfig c, string path) => PeftSharp.Adapters.TargetMatcher.Pattern(c.RankPattern, path, c.R);

    [Fact]
    public void With_sparse_lambda_zero_the_step_changes_nothing_and_the_export_keeps_full_rank()
    {
        var peft = PeftModel.Create(Tiny(), Config(sparseLambda: 0), seed: 1);
        Randomize(peft);
        var before = Layers(peft).Select(l => l.Gate.detach().clone()).ToList();
        Training(peft).AfterOptimizerStep(0, learningRate: 1.0);
        foreach (var (l, g0) in Layers(peft).Zip(before)) Assert.Equal(0.0, MaxDiff(l.Gate, g0));
        using var tmp = Fixtures.NewTempDir();
        var (b, a, loaded) = SaveAndReload(peft, () => Tiny(), tmp.Path);
        Assert.True(MaxDiff(b, a) < 1e-5);
        var config = Assert.IsType<LoraConfig>(loaded.Adapters["default"].Config);
        Assert.Empty(config.RankPattern);
        Assert.All(loaded.Adapters["default"].Of<LoraLinear>(), x => Assert.Equal(4, x.Adapter.Rank));
        Assert.Equal(6, loaded.Adapters["default"].Layers.Count);
    }

    [Fact]
    public void Merge_and_unmerge_fold_the_gated_update()
    {
        var model = Tiny();
        var before = Snapshot(model);
        var peft = PeftModel.Create(model, Config(), seed: 1);
        Randomize(peft);
        var adapted = Logits(peft);
        peft.Merge();
        Assert.True(MaxDiff(Logits(peft), adapted) < 1e-5);
        peft.Unmerge();
        foreach (var (name, t) in before) Assert.True(MaxDiff(Param(model, name), t) < 1e-6, name);
    }

    [Fact]
    public void A_resume_checkpoint_keeps_the_SoRA_form_and_loads_back()
    {
        var peft = PeftModel.Create(Tiny(), Config(sparseLambda: 0.5), seed: 1);
        Randomize(peft);
        Training(peft).AfterOptimizerStep(0, learningRate: 1.0);
        var logits = Logits(peft);
        using var tmp = Fixtures.NewTempDir();
        AdapterFolder.Save(peft, tmp.Path, null, forResume: true);
        Assert.Contains("base_model.model.model.layers.0.self_attn.q_proj.sora_gate", Keys(tmp.File(AdapterFolder.WeightsFile)));
        var loaded = AdapterFolder.Load(Tiny(), tmp.Path);
        var config = Assert.IsType<SoraConfig>(loaded.Adapters["default"].Config);
        Assert.Equal(0.5, config.SparseLambda);
        Assert.Equal(0.0, MaxDiff(Logits(loaded), logits));
    }

    [Fact]
    public void Exporting_an_adapter_whose_gates_are_all_zero_fails_clearly()
    {
        var peft = PeftModel.Create(Tiny(), Config(), seed: 1);
        Training(peft).Threshold(1e9);
        using var tmp = Fixtures.NewTempDir();
        var e = Assert.Throws<ConfigurationException>(() => AdapterFolder.Save(peft, tmp.Path));
        Assert.Contains("every gate is zero", e.Message);
        Assert.Contains("sparse_lambda", e.Message);
    }

    [Fact]
    public void Cli_trains_sora_logs_the_surviving_rank_and_saves_a_LoRA_folder_that_loads_back()
    {
        using var tmp = Fixtures.NewTempDir();
        var (output, loaded, folder) = TrainWithCliAndReload(tmp, """
            adapter: sora
            sora:
              r: 4
              lora_alpha: 8
              sparse_lambda: 10
              target_modules: [q_proj, v_proj]
            """);
        Assert.Contains("sora_rank", output);
        Assert.IsType<LoraConfig>(loaded.Adapters["default"].Config);
        Assert.Contains("\"peft_type\": \"SORA\"", File.ReadAllText(Path.Combine(folder, "checkpoint-4", AdapterFolder.ConfigFile)));
    }
}
