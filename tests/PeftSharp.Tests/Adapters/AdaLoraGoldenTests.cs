using System.Text.Json;
using PeftSharp.Adapters.AdaLora;
using PeftSharp.IO.SafeTensors;
using PeftSharp.Models.Llama;
using PeftSharp.Peft;
using PeftSharp.Tests.Support;
using static PeftSharp.Tests.Peft.LoraTestKit;

namespace PeftSharp.Tests.Adapters;

/// <summary>
/// AdaLoRA against a PEFT 0.21 run on the golden tiny Llama (tools/golden/make_golden_methods.py, adalora_trace): 8
/// plain-SGD steps with the orthogonal regulariser in the loss and the rank allocator after every step.
/// </summary>
public class AdaLoraGoldenTests
{
    static string Dir(params string[] parts) => Fixtures.Golden(new[] { "methods", "adalora_trace" }.Concat(parts).ToArray());

    internal static AdaLoraConfig TraceConfig() => new()
    {
        InitR = 4, TargetR = 2, Tinit = 1, Tfinal = 2, DeltaT = 1, TotalStep = 8, LoraAlpha = 8,
        TargetModules = new[] { "q_proj", "v_proj", "up_proj" },
    };

    /// <summary>The golden Llama with AdaLoRA whose tensors are PEFT's starting ones.</summary>
    static PeftModel Start()
    {
        var peft = PeftModel.Create(PeftGoldenLlama(), TraceConfig());
        using var start = SafeTensorsFile.Open(Dir("start.safetensors"));
        using var _ = no_grad();
        int copied = 0;
        foreach (var (path, p) in peft.Model.named_parameters().Where(p => PeftModel.IsAdapterPath(p.name)))
        {
            p.copy_(start.Load(PeftKeys.Prefix + path));
            copied++;
        }
        Assert.Equal(18, copied);
        return peft;
    }

    static LlamaForCausalLM PeftGoldenLlama() => PeftSharp.Tests.Peft.PeftGoldenTests.GoldenLlama();

    /// <summary>PEFT's rank_pattern key ("model.layers.0.self_attn.q_proj.lora_E.default") -> our module path.</summary>
    static string ModulePath(string key) => key.Replace(".lora_E.default", "", StringComparison.Ordinal);

    sealed record TraceRun(PeftModel Peft, AdaLoraTraining Training, List<string> Log);

    static TraceRun RunTrace()
    {
        var peft = Start();
        var model = (LlamaForCausalLM)peft.Model;
        var training = Assert.IsType<AdaLoraTraining>(peft.ActiveTraining);
        training.Begin(totalSteps: 100); // the config's total_step (8) wins over the run's
        Assert.Equal(8, training.Allocator!.TotalStep);
        using var trace = JsonDocument.Parse(File.ReadAllText(Dir("trace.json")));
        double lr = trace.RootElement.GetProperty("lr").GetDouble();
        Assert.Equal(trace.RootElement.GetProperty("init_bgt").GetInt32(), training.Allocator.InitialBudget);
        Assert.Equal(trace.RootElement.GetProperty("target_bgt").GetInt32(), training.Allocator.TargetBudget);
        using var batch = SafeTensorsFile.Open(Dir("batch.safetensors"));
        var ids = batch.Load("input_ids");
        var log = new List<string>();
        peft.SetTraining(true);
        foreach (var expected in trace.RootElement.GetProperty("steps").EnumerateArray())
        {
            int step = expected.GetProperty("step").GetInt32();
            using (var scope = NewDisposeScope())
            {
                var loss = Loss(model, ids) + training.RegularizationLoss()!;
                double ours = loss.item<float>(), theirs = expected.GetProperty("loss").GetDouble();
                log.Add($"step {step}: loss {ours:F7} (PEFT {theirs:F7})");
                Assert.True(Math.Abs(ours - theirs) < 2e-6, string.Join("\n", log));
                loss.backward();
                using (no_grad())
                    foreach (var p in peft.TrainableParameters()) p.add_(p.grad!, alpha: -lr);
            }
            Assert.Equal(expected.GetProperty("budget").GetInt32(), training.Allocator.Schedule(step).Budget);
            training.AfterOptimizerStep(step, lr);
            foreach (var p in peft.TrainableParameters()) p.grad!.zero_();

            var pattern = expected.GetProperty("rank_pattern").EnumerateObject()
                .ToDictionary(k => ModulePath(k.Name), k => k.Value.EnumerateArray().Select(v => v.GetBoolean()).ToArray());
            if (pattern.Count == 0) Assert.Null(training.Allocator.RankPattern);
            else
            {
                Assert.Equal(pattern.Keys.Order(), training.Allocator.RankPattern!.Keys.Order());
                foreach (var (path, keep) in pattern) Assert.True(keep.SequenceEqual(training.Allocator.RankPattern[path]), $"step {step} {path}");
            }
        }
        peft.SetTraining(false);
        return new TraceRun(peft, training, log);
    }

    [Fact]
    public void Eight_SGD_steps_give_PEFTs_losses_budgets_rank_patterns_and_final_tensors()
    {
        var run = RunTrace();
        TestContext.Current.TestOutputHelper?.WriteLine(string.Join("\n", run.Log));
        using var final = SafeTensorsFile.Open(Dir("final.safetensors"));
        double worst = 0;
        foreach (var (path, p) in run.Peft.Model.named_parameters().Where(p => PeftModel.IsAdapterPath(p.name)))
            worst = Math.Max(worst, MaxDiff(p, final.Load(PeftKeys.Prefix + path)));
        TestContext.Current.TestOutputHelper?.WriteLine($"final tensors: max |ours - PEFT| = {worst:E3}");
        Assert.True(worst < 1e-5, $"final tensors differ from PEFT's by {worst}");
        // Masked triplets: E is exactly zero where the final pattern drops a rank.
        foreach (var (path, layer) in run.Peft.Adapters["default"].Of<AdaLoraLinear>())
        {
            var e = layer.E.detach().view(-1).data<float>().ToArray();
            var keep = run.Training.Allocator!.RankPattern![path];
            for (int i = 0; i < e.Length; i++)
                if (!keep[i]) Assert.Equal(0f, e[i]);
        }
        Assert.Equal(12, run.Training.Metrics()["adalora_rank"]);
        Assert.Equal(12, run.Training.Metrics()["adalora_budget"]);
    }

    [Fact]
    public void Our_saved_folder_equals_PEFTs_and_loads_back_with_reduced_ranks_and_the_same_outputs()
    {
        var run = RunTrace();
        using var tmp = Fixtures.NewTempDir();
        var dir = Path.Combine(tmp.Path, "adapter");
        AdapterFolder.Save(run.Peft, dir, "tests/PeftSharp.Tests/Golden/models/llama");

        var ours = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, AdapterFolder.ConfigFile))).RootElement;
        var theirs = JsonDocument.Parse(File.ReadAllText(Dir("adapter", AdapterFolder.ConfigFile))).RootElement;
        Assert.Equal(theirs.GetProperty("rank_pattern").GetRawText().Replace(" ", "").Replace("\n", "").Replace("\r", ""),
                     ours.GetProperty("rank_pattern").GetRawText().Replace(" ", "").Replace("\n", "").Replace("\r", ""));
        foreach (var key in new[] { "init_r", "target_r", "tinit", "tfinal", "deltaT", "total_step", "peft_type", "lora_alpha", "beta1", "orth_reg_weight" })
            Assert.Equal(theirs.GetProperty(key).ToString(), ours.GetProperty(key).ToString());

        using (var mine = SafeTensorsFile.Open(Path.Combine(dir, AdapterFolder.WeightsFile)))
        using (var peftFile = SafeTensorsFile.Open(Dir("adapter", AdapterFolder.WeightsFile)))
        {
            Assert.Equal(peftFile.Keys.Order(), mine.Keys.Order());
            foreach (var key in peftFile.Keys)
            {
                Assert.Equal(peftFile.GetInfo(key).Shape, mine.GetInfo(key).Shape);
                using var t = mine.Load(key);
                if (t.numel() > 0) Assert.True(MaxDiff(t, peftFile.Load(key)) < 1e-5, key); // rank-0 modules hold [0, n] tensors
            }
        }

        var ids = Ids() % 128;
        var trained = Logits(run.Peft, ids);
        var loaded = AdapterFolder.Load(PeftGoldenLlama(), dir);
        var ranks = loaded.Adapters["default"].Of<AdaLoraLinear>().ToDictionary(l => l.Path, l => (l.Adapter.Rank, l.Adapter.RankNum));
        Assert.Equal((0, 4), ranks["model.layers.0.self_attn.q_proj"]);
        Assert.Equal((3, 4), ranks["model.layers.0.mlp.up_proj"]);
        Assert.Equal((4, 4), ranks["model.layers.1.self_attn.v_proj"]);
        Assert.True(MaxDiff(trained, Logits(loaded, ids)) < 1e-6);
        Assert.Contains("rank_pattern keeps 12 of 24 ranks", loaded.Adapters["default"].Config.Describe());
    }

    [Fact]
    public void PEFTs_saved_folder_loads_and_gives_its_logits_unmerged_and_merged()
    {
        var folder = Dir("adapter");
        var peft = AdapterFolder.Load(PeftGoldenLlama(), folder);
        var model = (LlamaForCausalLM)peft.Model;
        using var golden = SafeTensorsFile.Open(Path.Combine(folder, "golden_logits.safetensors"));
        var ids = golden.Load("input_ids");
        var mask = golden.Load("attention_mask");
        var real = mask.to(ScalarType.Bool).unsqueeze(-1);
        using var _ = no_grad();
        double Diff(Tensor a, Tensor b) => (a - b).masked_fill(real.logical_not(), 0).abs().max().item<float>();
        var adapted = model.Forward(ids, mask);
        var d = Diff(adapted, golden.Load("logits"));
        Assert.True(d < 1e-4, $"adapted logits differ from PEFT's by {d}");
        peft.Merge();
        var m = Diff(model.Forward(ids, mask), golden.Load("merged_logits"));
        Assert.True(m < 1e-4, $"merged logits differ from PEFT's by {m}");
        peft.Unmerge();
        var u = Diff(model.Forward(ids, mask), adapted);
        Assert.True(u < 1e-5, $"unmerge left {u}");
    }
}
