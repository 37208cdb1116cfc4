using PeftSharp.Adapters.Lora;
using PeftSharp.IO.SafeTensors;
using PeftSharp.Peft;
using PeftSharp.Tests.Support;
using static PeftSharp.Tests.Peft.LoraTestKit;

namespace PeftSharp.Tests.Peft;

/// <summary>PeftModel: named adapters, disabling, counting, merge-and-unload, bias and modules_to_save, targeting.</summary>
public class PeftModelTests
{
    static string[] Trainable(PeftModel peft) =>
        peft.Model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => p.name).Order(StringComparer.Ordinal).ToArray();

    static string[] Targets(LoraConfig config, string type = "llama") =>
        PeftModel.Create(Tiny(type: type), config).Adapters["default"].Layers.Select(l => l.ModulePath).Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void Named_adapters_switch_outputs_and_only_the_active_one_trains()
    {
        var peft = PeftModel.Create(Tiny(), Config(), seed: 1);
        Randomize(peft, "default", seed: 2);
        var first = Logits(peft);
        peft.AddAdapter("second", Config("k_proj", "o_proj"), seed: 3);
        Randomize(peft, "second", seed: 4);
        Assert.All(Trainable(peft), n => Assert.Contains(".default.", n)); // adding an adapter does not make it train
        Assert.Equal(8, Trainable(peft).Length);
        Assert.Equal(0.0, MaxDiff(Logits(peft), first));

        peft.SetAdapter("second");
        Assert.Equal("second", peft.ActiveAdapter);
        var second = Logits(peft);
        Assert.True(MaxDiff(second, first) > 1e-3);
        Assert.Equal(8, Trainable(peft).Length);
        Assert.All(Trainable(peft), n => Assert.Contains(".second.", n));

        peft.SetAdapter("default");
        Assert.Equal(0.0, MaxDiff(Logits(peft), first));
        peft.SetAdapter("second");
        peft.DeleteAdapter("second");
        Assert.DoesNotContain(peft.Model.named_parameters(), p => p.name.Contains(".second", StringComparison.Ordinal));
        Assert.DoesNotContain(peft.Model.state_dict().Keys, k => k.Contains(".second", StringComparison.Ordinal));
        Assert.DoesNotContain(peft.Model.state_dict().Keys, k => k.Contains("k_proj.lora", StringComparison.Ordinal));
        Assert.Equal("default", peft.ActiveAdapter);
        Assert.Equal(0.0, MaxDiff(Logits(peft), first));
    }

    [Fact]
    public void Disable_adapters_scope_gives_the_base_output_and_restores_afterwards()
    {
        var model = Tiny();
        var baseLogits = Logits(model);
        var peft = PeftModel.Create(model, Config("q_proj", "v_proj", "embed_tokens") with { ModulesToSave = new[] { "lm_head" } }, seed: 1);
        Randomize(peft, seed: 2);
        var adapted = Logits(peft);
        using (peft.DisableAdapters()) Assert.Equal(0.0, MaxDiff(Logits(model), baseLogits));
        Assert.Equal(0.0, MaxDiff(Logits(model), adapted));
        Assert.True(MaxDiff(adapted, baseLogits) > 1e-3);
    }

    [Fact]
    public void Trainable_report_counts_exactly()
    {
        var peft = PeftModel.Create(Tiny(), Config(), seed: 1);
        // r = 4, hidden 32: q_proj A 4x32 + B 32x4 = 256, v_proj (2 kv heads x 8 = 16 out) A 4x32 + B 16x4 = 192; 2 layers.
        long trainable = 2 * (4 * 32 + 32 * 4 + 4 * 32 + 16 * 4);
        // embed 97x32, per layer q 32x32, k 16x32, v 16x32, o 32x32, gate/up 48x32, down 32x48, 2 norms; final norm; lm_head.
        long baseCount = 97 * 32 + 2 * (1024 + 512 + 512 + 1024 + 3 * 1536 + 64) + 32 + 97 * 32;
        Assert.Equal(896, trainable);
        Assert.Equal((trainable, baseCount + trainable), peft.CountParameters());
        Assert.Equal("trainable params: 896 || all params: 22,624 || trainable%: 3.9604", peft.TrainableReport());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Merge_and_unload_returns_the_base_architecture_with_the_adapted_output(bool dora)
    {
        var model = Tiny();
        var baseKeys = model.state_dict().Keys.ToArray();
        var peft = PeftModel.Create(model, new LoraConfig { TargetRegex = LoraConfig.AllLinear, UseDora = dora, ModulesToSave = new[] { "lm_head" } }, seed: 1);
        Randomize(peft, seed: 3);
        var adapted = Logits(peft);
        var plain = (PeftSharp.Models.Llama.LlamaForCausalLM)peft.MergeAndUnload();
        Assert.Equal(baseKeys, plain.state_dict().Keys.ToArray());
        Assert.Empty(peft.Adapters);
        double d = MaxDiff(Logits(plain), adapted);
        Assert.True(d < 1e-5, $"merged-and-unloaded output differs from the adapted by {d}");
    }

    [Theory]
    [InlineData("lora_only")]
    [InlineData("all")]
    public void Bias_setting_makes_the_right_biases_trainable_and_saved(string bias)
    {
        var peft = PeftModel.Create(Tiny(type: "qwen2"), Config() with { Bias = bias }, seed: 1);
        var biases = Trainable(peft).Where(n => n.EndsWith(".bias", StringComparison.Ordinal)).ToArray();
        var expected = new[] { 0, 1 }.SelectMany(l => (bias == "all" ? new[] { "k", "q", "v" } : new[] { "q", "v" })
            .Select(p => $"model.layers.{l}.self_attn.{p}_proj.bias")).ToArray();
        Assert.Equal(expected, biases);
        using var dir = Fixtures.NewTempDir();
        AdapterFolder.Save(peft, dir.Path);
        using var f = SafeTensorsFile.Open(dir.File("adapter_model.safetensors"));
        // As Python PEFT 0.21 writes them (checked there): an adapted layer's bias under base_layer, others by name.
        var savedAs = expected.Select(e => "base_model.model." + (e.Contains("k_proj") ? e : e.Replace(".bias", ".base_layer.bias")));
        Assert.Equal(savedAs.Order(StringComparer.Ordinal), f.Keys.Where(k => k.EndsWith(".bias", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        Assert.Equal(8, f.Keys.Count(k => k.Contains("lora_", StringComparison.Ordinal)));
    }

    [Fact]
    public void Modules_to_save_is_a_trainable_full_copy_saved_under_the_original_key()
    {
        var model = Tiny();
        var baseHead = model.lm_head.weight.detach().clone();
        var peft = PeftModel.Create(model, Config() with { ModulesToSave = new[] { "lm_head" } }, seed: 1);
        Assert.Contains("lm_head.modules_to_save.default.weight", Trainable(peft));
        Assert.False(model.lm_head.weight.requires_grad);
        Randomize(peft, seed: 5);
        Assert.Equal(0.0, MaxDiff(model.lm_head.weight, baseHead)); // the base head is untouched
        var adapted = Logits(peft);

        using var dir = Fixtures.NewTempDir();
        AdapterFolder.Save(peft, dir.Path);
        using (var f = SafeTensorsFile.Open(dir.File("adapter_model.safetensors")))
        {
            Assert.Contains("base_model.model.lm_head.weight", f.Keys);
            Assert.Equal(new long[] { 97, 32 }, f.GetInfo("base_model.model.lm_head.weight").Shape);
            Assert.Equal(9, f.Keys.Count);
        }
        var loaded = AdapterFolder.Load(Tiny(), dir.Path);
        Assert.Equal(0.0, MaxDiff(Logits(loaded), adapted));
    }

    [Fact]
    public void Target_regex_all_linear_exclude_modules_and_layers_to_transform_select_the_right_modules()
    {
        Assert.Equal(new[] { "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj" },
            Targets(new LoraConfig { TargetRegex = @"model\.layers\.1\.self_attn\.(q|v)_proj" }));
        // A regex must match the whole name: "q_proj" alone matches no full module name.
        Assert.Throws<ConfigurationException>(() => Targets(new LoraConfig { TargetRegex = "q_proj" }));
        var allLinear = Targets(new LoraConfig { TargetRegex = LoraConfig.AllLinear });
        Assert.Equal(14, allLinear.Length);
        Assert.DoesNotContain("lm_head", allLinear);
        Assert.Equal(allLinear, Targets(new LoraConfig { TargetModules = new[] { "all-linear" } }));
        var excluded = Targets(new LoraConfig { TargetRegex = LoraConfig.AllLinear, ExcludeModules = new[] { "down_proj", "q_proj" } });
        Assert.Equal(10, excluded.Length);
        Assert.DoesNotContain(excluded, n => n.EndsWith("down_proj", StringComparison.Ordinal) || n.EndsWith("q_proj", StringComparison.Ordinal));
        Assert.Equal(new[] { "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj" },
            Targets(Config() with { LayersToTransform = new[] { 1 } }));
    }
}
