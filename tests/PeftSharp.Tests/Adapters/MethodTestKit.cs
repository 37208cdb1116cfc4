using PeftSharp.IO.SafeTensors;
using PeftSharp.Models;
using PeftSharp.Models.Llama;
using PeftSharp.Nn.Quantized;
using PeftSharp.Peft;
using PeftSharp.Quantization;
using PeftSharp.Tests.Support;
using static PeftSharp.Tests.Peft.LoraTestKit;
using Linear = PeftSharp.Nn.Linear;

namespace PeftSharp.Tests.Adapters;

/// <summary>Helpers shared by the IA3, SoRA and bottleneck tests.</summary>
internal static class MethodTestKit
{
    /// <summary>A golden tiny HF model (llama, qwen2, ...) loaded from tests/Golden/models.</summary>
    public static LlamaForCausalLM GoldenModel(string kind)
    {
        var dir = Fixtures.Golden("models", kind);
        var model = new LlamaForCausalLM(LlamaConfig.FromFile(Path.Combine(dir, "config.json")));
        using var src = SafeTensorsCheckpoint.Open(dir);
        WeightLoader.Load(model, src, model.TiedKeys);
        return model;
    }

    /// <summary>Max |analytic − central finite difference| over flat entries of <paramref name="p"/> (gradient already in p.grad).</summary>
    public static double FiniteDifferenceError(Func<double> loss, Tensor p, IEnumerable<long> flatIndices, List<string> log, string name, double h = 1e-6)
    {
        double worst = 0;
        var flat = p.view(-1);
        foreach (var k in flatIndices)
        {
            double analytic = p.grad!.view(-1)[k].item<double>();
            using (no_grad()) flat[k].add_(h);
            double plus = loss();
            using (no_grad()) flat[k].sub_(2 * h);
            double minus = loss();
            using (no_grad()) flat[k].add_(h);
            double fd = (plus - minus) / (2 * h);
            worst = Math.Max(worst, Math.Abs(analytic - fd));
            log.Add($"{name}[{k}]: analytic {analytic:E6} fd {fd:E6}");
        }
        return worst;
    }

    /// <summary>
    /// Backward of the tiny model's loss once, then the max FD error over the given (parameter path, flat indices);
    /// asserts the gradients are not trivially small and the error is below <paramref name="tolerance"/>.
    /// </summary>
    public static void AssertGradientsMatchFiniteDifferences(LlamaForCausalLM model, IEnumerable<(string Path, long[] Idx)> checks, double tolerance = 1e-7)
    {
        var ids = Ids();
        using (var scope = NewDisposeScope()) Loss(model, ids).backward();
        double L()
        {
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            return Loss(model, ids).item<double>();
        }
        var log = new List<string>();
        double worst = 0, largest = 0;
        foreach (var (path, idx) in checks)
        {
            var p = Param(model, path);
            Assert.Equal(ScalarType.Float64, p.dtype);
            Assert.True(p.grad is not null, $"{path} got no gradient");
            largest = Math.Max(largest, p.grad!.abs().max().item<double>());
            worst = Math.Max(worst, FiniteDifferenceError(L, p, idx, log, path));
        }
        Assert.True(largest > 1e-5, "gradients are trivially small: " + largest);
        TestContext.Current.TestOutputHelper?.WriteLine($"max gradient error {worst:E3}");
        Assert.True(worst < tolerance, $"max |analytic - finite difference| = {worst:E3}\n" + string.Join("\n", log));
        foreach (var (path, p) in model.named_parameters())
            if (!PeftModel.IsAdapterPath(path)) Assert.True(p.grad is null, $"base parameter {path} received a gradient");
    }

    /// <summary>Replaces every Linear's weight but the head's by NF4 (double-quantized), as a QLoRA load does.</summary>
    public static void QuantizeLinears(nn.Module model)
    {
        foreach (var (name, m) in model.named_modules())
            if (m is Linear l && name != "lm_head" && l.weight.numel() > 0)
                l.SetQuantized(FourBitWeight.Quantize(l.weight.detach().clone(), QuantType.Nf4, 32, true, ScalarType.Float32));
    }

    /// <summary>Sets every adapter parameter of <paramref name="peft"/> by <paramref name="set"/>(path, parameter, generator).</summary>
    public static void SetAdapterParameters(PeftModel peft, Action<string, Tensor, Generator> set, long seed = 11)
    {
        using var gen = new Generator().manual_seed(seed);
        using var _ = no_grad();
        foreach (var (path, p) in peft.Model.named_parameters())
            if (PeftModel.IsAdapterPath(path)) set(path, p, gen);
    }

    /// <summary>Saves the default adapter, loads it into a fresh copy of the base from <paramref name="makeBase"/>, returns both logits.</summary>
    public static (Tensor Before, Tensor After, PeftModel Loaded) SaveAndReload(PeftModel peft, Func<LlamaForCausalLM> makeBase, string dir)
    {
        peft.SetTraining(false);
        var before = Logits(peft);
        AdapterFolder.Save(peft, dir);
        var loaded = AdapterFolder.Load(makeBase(), dir);
        return (before, Logits(loaded), loaded);
    }

    /// <summary>The tensor names in a safetensors file.</summary>
    public static List<string> Keys(string file)
    {
        using var f = SafeTensorsFile.Open(file);
        return f.Keys.OrderBy(k => k, StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// Runs `train` for a few steps with <paramref name="adapterYaml"/>, asserts it succeeded, then loads the saved folder
    /// onto a fresh stories260K and checks it changes the logits; returns the run's output and the loaded adapter.
    /// </summary>
    public static (string Out, PeftModel Loaded, string Folder) TrainWithCliAndReload(TempDir tmp, string adapterYaml)
    {
        var output = Path.Combine(tmp.Path, "run");
        var r = CliRunner.Run("train", TrainConfig(tmp, output, adapterYaml));
        Assert.True(r.ExitCode == 0, r.Err + r.Out);
        Assert.True(File.Exists(Path.Combine(output, "checkpoint-4", AdapterFolder.WeightsFile)), "no checkpoint written");
        var lm = PretrainedCausalLM.Load(Fixtures.Require("models", "stories260K"));
        var ids = Ids();
        var baseLogits = Logits(lm.Model, ids);
        var loaded = AdapterFolder.Load(lm.Model, output);
        Assert.True(MaxDiff(Logits(loaded, ids), baseLogits) > 1e-5, "the trained adapter does not change the model");
        var g = CliRunner.Run("generate", "-m", Fixtures.Require("models", "stories260K"), "--adapter", output, "-n", "5");
        Assert.True(g.ExitCode == 0, g.Err);
        return (r.Out, loaded, output);
    }

    /// <summary>A `train` YAML for a few steps of <paramref name="adapterYaml"/> on stories260K and a slice of tinyshakespeare.</summary>
    public static string TrainConfig(TempDir tmp, string output, string adapterYaml, int maxSteps = 4) =>
        TrainYaml.Write(tmp, "cfg.yaml", new TrainYaml.Options(adapterYaml) { SliceChars = 8_000, MaxSteps = maxSteps, LearningRate = "1.0e-2", OutputDir = output });
}
