using PeftSharp.Adapters.Lora;
using PeftSharp.Generation;
using PeftSharp.Models;
using PeftSharp.Peft;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Cli;

public class CliAdapterTests
{
    /// <summary>A LoRA adapter on every linear layer of stories260K with random non-zero B, saved as a PEFT folder.</summary>
    internal static string SaveRandomAdapter(TempDir tmp, string model)
    {
        using var lm = PretrainedCausalLM.Load(model);
        var peft = PeftModel.Create(lm.Model, new LoraConfig { R = 4, LoraAlpha = 16, TargetRegex = LoraConfig.AllLinear }, seed: 3);
        using (no_grad())
        using (var gen = new Generator().manual_seed(9))
            foreach (var (name, p) in lm.Model.named_parameters())
                if (name.Contains(".lora_B.")) p.copy_(randn(p.shape, generator: gen) * 0.05);
        var dir = Path.Combine(tmp.Path, "adapter");
        AdapterFolder.Save(peft, dir, model);
        return dir;
    }

    [Fact]
    public void Merge_then_generate_equals_generate_with_the_adapter()
    {
        var model = Fixtures.Require("models", "stories260K");
        using var tmp = Fixtures.NewTempDir();
        var adapter = SaveRandomAdapter(tmp, model);
        var adapted = CliRunner.Run("generate", "-m", model, "--adapter", adapter, "-n", "40");
        Assert.True(adapted.ExitCode == 0, adapted.Err);
        var plain = CliRunner.Run("generate", "-m", model, "-n", "40");
        Assert.NotEqual(plain.Out, adapted.Out);

        var merged = Path.Combine(tmp.Path, "merged");
        var m = CliRunner.Run("merge", "--model", model, "--adapter", adapter, "--out", merged);
        Assert.True(m.ExitCode == 0, m.Err);
        Assert.Contains("trainable params", m.Out);
        Assert.True(File.Exists(Path.Combine(merged, "model.safetensors")));
        var fromMerged = CliRunner.Run("generate", "-m", merged, "-n", "40");
        Assert.Equal(adapted.Out, fromMerged.Out);
    }

    [Fact]
    public void Inspect_with_an_adapter_reports_it()
    {
        var model = Fixtures.Require("models", "stories260K");
        using var tmp = Fixtures.NewTempDir();
        var adapter = SaveRandomAdapter(tmp, model);
        var r = CliRunner.Run("inspect", "-m", model, "--adapter", adapter);
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.Contains("LoRA, r 4, lora_alpha 16", r.Out);
        Assert.Contains("q_proj x5", r.Out);
        // per layer r·(in+out): q 4·128, k 4·96, v 4·96, o 4·128, gate/up/down 4·236 each = 4,624; x5 layers
        Assert.Contains("trainable params: 23,120 || all params: 283,152 || trainable%: 8.1652", r.Out);
    }

    [Fact]
    public void Merge_without_an_adapter_or_with_a_missing_one_fails_clearly()
    {
        var model = Fixtures.Require("models", "stories260K");
        using var tmp = Fixtures.NewTempDir();
        var a = CliRunner.Run("merge", "-m", model, "--out", Path.Combine(tmp.Path, "x"));
        Assert.Equal(1, a.ExitCode);
        Assert.Contains("--adapter", a.Err);
        var b = CliRunner.Run("merge", "-m", model, "--adapter", tmp.File("nothing"), "--out", Path.Combine(tmp.Path, "y"));
        Assert.Equal(1, b.ExitCode);
        Assert.Contains("adapter_config.json not found", b.Err);
        Assert.False(Directory.Exists(Path.Combine(tmp.Path, "y")));
    }
}
