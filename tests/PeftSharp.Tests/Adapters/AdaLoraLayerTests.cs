using PeftSharp.Adapters;
using PeftSharp.Adapters.AdaLora;
using PeftSharp.IO.SafeTensors;
using PeftSharp.Models.Llama;
using PeftSharp.Nn.Quantized;
using PeftSharp.Peft;
using PeftSharp.Quantization;
using PeftSharp.Tests.Peft;
using PeftSharp.Tests.Support;
using static PeftSharp.Tests.Peft.LoraTestKit;

namespace PeftSharp.Tests.Adapters;

/// <summary>AdaLoRA's layer, allocator, regulariser and saved forms on tiny random Llamas.</summary>
public class AdaLoraLayerTests
{
    static AdaLoraConfig Config(int totalStep = 12) => new()
    {
        InitR = 4, TargetR = 2, Tinit = 2, Tfinal = 3, DeltaT = 2, TotalStep = totalStep, LoraAlpha = 8,
        TargetModules = new[] { "q_proj", "v_proj", "down_proj" },
    };

    static AdaLoraTraining TrainingOf(PeftModel peft) => Assert.IsType<AdaLoraTraining>(peft.ActiveTraining);

    /// <summary>One SGD step on the next-token loss plus the regulariser, then the allocator; returns the loss.</summary>
    static double SgdStep(PeftModel peft, Tensor ids, int step, double lr = 0.5)
    {
        using var scope = NewDisposeScope();
        var training = TrainingOf(peft);
        var loss = Loss((LlamaForCausalLM)peft.Model, ids) + training.RegularizationLoss()!;
        loss.backward();
        using (no_grad())
            foreach (var p in peft.TrainableParameters()) p.add_(p.grad!, alpha: -lr);
        training.AfterOptimizerStep(step, lr);
        foreach (var p in peft.TrainableParameters()) p.grad!.zero_();
        return loss.item<float>();
    }

    [Fact]
    public void At_init_the_output_equals_the_base_model_and_the_layer_has_PEFTs_shapes()
    {
        var model = Tiny(seed: 2);
        var before = Logits(model);
        var peft = PeftModel.Create(model, Config(), seed: 1);
        Assert.Equal(0.0, MaxDiff(before, Logits(peft)));
        var (path, layer) = peft.Adapters["default"].Of<AdaLoraLinear>().First(l => l.Path.EndsWith("down_proj", StringComparison.Ordinal));
        var host = (PeftSharp.Nn.Linear)model.named_modules().First(m => m.name == path).module;
        Assert.Equal(new long[] { 4, host.InFeatures }, layer.A.shape);
        Assert.Equal(new long[] { 4, 1 }, layer.E.shape);
        Assert.Equal(new long[] { host.OutFeatures, 4 }, layer.B.shape);
        Assert.Equal(0.0, layer.E.abs().sum().item<float>());
        Assert.InRange(layer.A.std().item<float>(), 0.015, 0.025);   // normal(0, 0.02)
        Assert.Equal(8.0, layer.Scaling);
        var keys = PeftKeys.AdapterTensors(peft, "default").Keys.ToList();
        Assert.Contains($"base_model.model.{path}.lora_E", keys);
        Assert.Contains($"base_model.model.{path}.lora_A", keys);
        Assert.DoesNotContain(keys, k => k.Contains("ranknum"));
    }

    [Fact]
    public void Gradients_of_the_loss_with_the_orthogonal_regulariser_match_finite_differences_in_fp64()
    {
        var model = Tiny(seed: 3, dtype: ScalarType.Float64);
        var peft = PeftModel.Create(model, Config(), seed: 5);
        Randomize(peft, seed: 9);
        var training = TrainingOf(peft);
        var ids = Ids();
        double L()
        {
            using var _ = no_grad();
            return (Loss(model, ids) + training.RegularizationLoss()!).item<double>();
        }
        (Loss(model, ids) + training.RegularizationLoss()!).backward();
        var log = new List<string>();
        double worst = 0;
        foreach (var (path, idx) in new (string, long[])[]
        {
            ("model.layers.0.self_attn.q_proj.lora_A.default", new long[] { 0, 45, 127 }),
            ("model.layers.0.self_attn.q_proj.lora_E.default", new long[] { 0, 3 }),
            ("model.layers.1.mlp.down_proj.lora_B.default", new long[] { 2, 77 }),
            ("model.layers.1.mlp.down_proj.lora_E.default", new long[] { 1 }),
            ("model.layers.1.self_attn.v_proj.lora_A.default", new long[] { 5, 100 }),
        })
        {
            var p = Param(model, path);
            Assert.Equal(ScalarType.Float64, p.dtype);
            worst = Math.Max(worst, MethodTestKit.FiniteDifferenceError(L, p, idx, log, path));
        }
        TestContext.Current.TestOutputHelper?.WriteLine($"max gradient error {worst:E3}");
        Assert.True(worst < 1e-7, $"max |analytic - finite difference| = {worst:E3}\n" + string.Join("\n", log));
        Assert.All(model.named_parameters().Where(p => !PeftModel.IsAdapterPath(p.name)), p => Assert.True(p.parameter.grad is null, p.name));
    }

    [Fact]
    public void Merge_and_unmerge_reproduce_the_adapted_and_base_outputs()
    {
        var model = Tiny(seed: 4);
        var baseLogits = Logits(model);
        var peft = PeftModel.Create(model, Config(), seed: 1);
        Randomize(peft, seed: 3);
        var adapted = Logits(peft);
        Assert.True(MaxDiff(adapted, baseLogits) > 1e-3);
        peft.Merge();
        Assert.True(MaxDiff(adapted, Logits(peft)) < 1e-4);
        peft.Unmerge();
        Assert.True(MaxDiff(adapted, Logits(peft)) < 1e-5);
        using (peft.DisableAdapters()) Assert.True(MaxDiff(baseLogits, Logits(peft)) < 1e-5);
    }

    [Theory]
    [InlineData(4, 2, 3, 2, 30, 3)]
    [InlineData(12, 8, 0, 0, 10, 1)]
    [InlineData(6, 1, 5, 10, 100, 4)]
    public void The_budget_follows_the_cubic_schedule_step_by_step(int initR, int targetR, int tinit, int tfinal, int total, int deltaT)
    {
        int modules = 3, init = initR * modules, target = targetR * modules;
        for (int step = 0; step < total + 3; step++)
        {
            var (budget, mask) = RankAllocator.Schedule(step, init, target, tinit, tfinal, total, deltaT);
            if (step <= tinit) Assert.Equal((init, false), (budget, mask));
            else if (step > total - tfinal) Assert.Equal((target, true), (budget, mask));
            else
            {
                double progress = (double)(step - tinit) / (total - tfinal - tinit);
                Assert.Equal((int)Math.Floor((init - target) * Math.Pow(1 - progress, 3) + target), budget);
                Assert.Equal(step % deltaT == 0, mask);
            }
        }
        Assert.Equal(target, RankAllocator.Schedule(total - tfinal, init, target, tinit, tfinal, total, deltaT).Budget);
    }

    [Fact]
    public void Training_masks_to_the_budget_and_masked_triplets_stay_zero_after_the_final_allocation()
    {
        var model = Tiny(seed: 6);
        var peft = PeftModel.Create(model, Config(totalStep: 12), seed: 1);
        var training = TrainingOf(peft);
        training.Begin(12);
        var layers = peft.Adapters["default"].Of<AdaLoraLinear>().ToList();
        using (no_grad()) foreach (var (_, l) in layers) l.E.normal_(0, 0.5);
        var ids = Ids();
        var allocator = training.Allocator!;
        Assert.Equal(24, allocator.InitialBudget);   // 6 modules x init_r 4
        Assert.Equal(12, allocator.TargetBudget);
        for (int step = 0; step < 16; step++)        // 4 steps past total_step: the final pattern keeps applying
        {
            SgdStep(peft, ids, step);
            var (budget, mask) = allocator.Schedule(step);
            Assert.Equal(budget, training.Metrics()["adalora_budget"]);
            int nonZero = layers.Sum(l => (int)l.Adapter.E.ne(0).sum().item<long>());
            if (mask)
            {
                Assert.Equal(budget, allocator.KeptRank);       // no ties in random scores
                Assert.Equal(allocator.KeptRank, nonZero);
                Assert.Equal(allocator.KeptRank, training.Metrics()["adalora_rank"]);
                foreach (var (path, l) in layers)
                {
                    var e = l.E.detach().view(-1).data<float>().ToArray();
                    var keep = allocator.RankPattern![path];
                    Assert.All(Enumerable.Range(0, e.Length).Where(i => !keep[i]), i => Assert.Equal(0f, e[i]));
                }
            }
            else if (step <= 2) Assert.Null(allocator.RankPattern);   // tinit: no allocation yet
        }
        Assert.Equal(12, allocator.KeptRank);
        Assert.True(training.Metrics()["adalora_orth_reg"] > 0);
    }

    [Fact]
    public void The_saved_folder_carries_rank_pattern_and_loads_back_with_reduced_ranks_and_identical_outputs()
    {
        var model = Tiny(seed: 7);
        var peft = PeftModel.Create(model, Config(totalStep: 8) with { Tinit = 1, Tfinal = 2, DeltaT = 1 }, seed: 1);
        using (no_grad()) foreach (var (_, l) in peft.Adapters["default"].Of<AdaLoraLinear>()) l.E.normal_(0, 0.5);
        TrainingOf(peft).Begin(8);
        for (int step = 0; step < 8; step++) SgdStep(peft, Ids(), step);
        var trained = Logits(peft);
        using var tmp = Fixtures.NewTempDir();
        var dir = Path.Combine(tmp.Path, "a");
        AdapterFolder.Save(peft, dir);

        var config = Assert.IsType<AdaLoraConfig>(AdapterFolder.ReadConfig(dir));
        var pattern = config.RankPattern!;
        Assert.Equal(6, pattern.Count);
        Assert.All(pattern.Keys, k => Assert.EndsWith(".lora_E", k));
        Assert.Equal(12, pattern.Values.Sum(v => v.Count(k => k)));
        using (var file = SafeTensorsFile.Open(Path.Combine(dir, AdapterFolder.WeightsFile)))
            foreach (var (key, keep) in pattern)
            {
                long r = keep.Count(k => k);
                var host = PeftKeys.Prefix + key[..^".lora_E".Length];
                Assert.Equal(new[] { r, 1L }, file.GetInfo(host + ".lora_E").Shape);
                Assert.Equal(r, file.GetInfo(host + ".lora_A").Shape[0]);
                Assert.Equal(r, file.GetInfo(host + ".lora_B").Shape[1]);
            }

        var loaded = AdapterFolder.Load(Tiny(seed: 7), dir);
        foreach (var (path, layer) in loaded.Adapters["default"].Of<AdaLoraLinear>())
        {
            Assert.Equal(pattern[path + ".lora_E"].Count(k => k), layer.Rank);
            Assert.Equal(4, layer.RankNum);
        }
        var loadedDiff = MaxDiff(trained, Logits(loaded));
        Assert.True(loadedDiff < 1e-5, $"reloaded outputs differ by {loadedDiff}");

        // Saving the loaded adapter again writes the same folder (its layers already hold only the kept ranks).
        var again = Path.Combine(tmp.Path, "b");
        AdapterFolder.Save(loaded, again);
        Assert.Equal(File.ReadAllBytes(Path.Combine(dir, AdapterFolder.WeightsFile)), File.ReadAllBytes(Path.Combine(again, AdapterFolder.WeightsFile)));

        // A trainer checkpoint keeps the full training form (no rank_pattern), which loads back into the live adapter.
        var checkpoint = Path.Combine(tmp.Path, "ckpt");
        AdapterFolder.Save(peft, checkpoint, null, forResume: true);
        Assert.Null(Assert.IsType<AdaLoraConfig>(AdapterFolder.ReadConfig(checkpoint)).RankPattern);
        var fresh = PeftModel.Create(Tiny(seed: 7), Config(totalStep: 8), seed: 2);
        AdapterFolder.LoadWeights(fresh, "default", checkpoint);
        Assert.True(MaxDiff(trained, Logits(fresh)) < 1e-6);
    }

    [Fact]
    public void Zero_size_tensors_round_trip_through_safetensors()
    {
        using var tmp = Fixtures.NewTempDir();
        var path = tmp.File("z.safetensors");
        SafeTensorsWriter.Write(path, new Dictionary<string, Tensor> { ["a"] = zeros(0, 5), ["b"] = ones(5, 0), ["c"] = ones(2) });
        using var f = SafeTensorsFile.Open(path);
        Assert.Equal(new long[] { 0, 5 }, f.Load("a").shape);
        Assert.Equal(new long[] { 5, 0 }, f.Load("b").shape);
        Assert.Equal(2f, f.Load("c").sum().item<float>());
    }

    [Fact]
    public void Trains_on_an_NF4_base_and_reports_its_trainable_parameters()
    {
        var model = TinyModels.Random(TinyModels.Config(), seed: 5);
        foreach (var (name, m) in model.named_modules())
            if (m is PeftSharp.Nn.Linear l && name != "lm_head")
                l.SetQuantized(FourBitWeight.Quantize(l.weight.detach().clone(), QuantType.Nf4, 64, true, ScalarType.Float32));
        var config = Config(totalStep: 20) with { TargetModules = null, TargetRegex = AdapterConfig.AllLinear };
        var peft = PeftModel.Create(model, config, seed: 2);
        var record = peft.Adapters["default"];
        long expected = record.Layers.Select(l => (PeftSharp.Nn.Linear)l.Host).Sum(h => 4L * (h.InFeatures + h.OutFeatures + 1));
        Assert.Equal(expected, peft.CountParameters().Trainable);
        Assert.Contains($"trainable params: {expected:N0}", peft.TrainableReport(), StringComparison.Ordinal);
        Assert.All(model.named_parameters().Where(p => p.parameter.requires_grad), p => Assert.Contains(".lora_", p.name));

        var ids = TinyModels.Ids(new long[] { 1, 5, 9, 14, 20, 27, 35, 44, 54, 65, 77, 90 });
        TrainingOf(peft).Begin(20);
        double first = SgdStep(peft, ids, 0, lr: 1.0), last = first;
        for (int step = 1; step < 20; step++) last = SgdStep(peft, ids, step, lr: 1.0);
        Assert.True(last < first, $"loss {first:F4} -> {last:F4}");
        Assert.Equal(config.TargetR * record.Layers.Count, TrainingOf(peft).Allocator!.KeptRank);
        Assert.All(model.named_modules().Select(m => m.module).OfType<PeftSharp.Nn.Linear>().Where(l => l.Quantized is not null),
            l => Assert.Equal(0, l.weight.numel()));
    }

    [Fact]
    public void Describe_and_config_json_round_trip()
    {
        var config = Config();
        Assert.Equal("AdaLoRA, init_r 4 -> target_r 2, lora_alpha 8, dropout 0, tinit 2, tfinal 3, deltaT 2, total_step 12, orth_reg_weight 0.5", config.Describe());
        var json = config.ToJson();
        Assert.Equal("ADALORA", (string?)json["peft_type"]);
        var back = Assert.IsType<AdaLoraConfig>(AdapterConfigReader.FromJson(
            new JsonReading(System.Text.Json.JsonDocument.Parse(json.ToJsonString()).RootElement, "test"), new List<string>()));
        Assert.Equal((config.InitR, config.TargetR, config.Tinit, config.Tfinal, config.DeltaT, config.TotalStep, config.LoraAlpha),
                     (back.InitR, back.TargetR, back.Tinit, back.Tfinal, back.DeltaT, back.TotalStep, back.LoraAlpha));
        Assert.Equal(config.TargetModules, back.TargetModules);
        Assert.Contains("total_step from the run", (config with { TotalStep = null }).Describe());
    }

    [Theory]
    [InlineData("total_step", "total_step (5) - tinit (2) - tfinal (3) must be > 0")]
    [InlineData("target_r", "target_r must be between 0 and init_r (4)")]
    [InlineData("deltaT", "deltaT must be a positive integer")]
    [InlineData("beta1", "beta1 must be in (0, 1)")]
    [InlineData("orth_reg_weight", "orth_reg_weight must be greater than 0")]
    [InlineData("targets", "target_modules is required")]
    public void Bad_values_are_refused_with_the_field_named(string field, string expected)
    {
        var config = field switch
        {
            "total_step" => Config(totalStep: 5),
            "target_r" => Config() with { TargetR = 5 },
            "deltaT" => Config() with { DeltaT = 0 },
            "beta1" => Config() with { Beta1 = 1 },
            "orth_reg_weight" => Config() with { OrthRegWeight = 0 },
            _ => Config() with { TargetModules = null },
        };
        var e = Assert.Throws<ConfigurationException>(() => config.Validate());
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Without_total_step_the_run_length_is_used_and_checked()
    {
        var peft = PeftModel.Create(Tiny(), Config() with { TotalStep = null }, seed: 1);
        var training = TrainingOf(peft);
        var e = Assert.Throws<ConfigurationException>(() => training.Begin(5));
        Assert.Contains("taken from the run's 5 steps", e.Message);
        training.Begin(40);
        Assert.Equal(40, training.Allocator!.TotalStep);
        using var tmp = Fixtures.NewTempDir();
        AdapterFolder.Save(peft, tmp.Path);
        Assert.Equal(40, Assert.IsType<AdaLoraConfig>(AdapterFolder.ReadConfig(tmp.Path)).TotalStep);
    }
}
