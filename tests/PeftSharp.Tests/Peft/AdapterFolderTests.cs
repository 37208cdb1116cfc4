using System.Text.Json;
using PeftSharp.Adapters.Lora;
using PeftSharp.IO.SafeTensors;
using PeftSharp.Peft;
using PeftSharp.Tests.Support;
using static PeftSharp.Tests.Peft.LoraTestKit;

namespace PeftSharp.Tests.Peft;

/// <summary>Saving and loading PEFT adapter folders: exact keys and config fields, round trips, PEFT-written folders.</summary>
public class AdapterFolderTests
{
    static string[] KeysIn(string file)
    {
        using var f = SafeTensorsFile.Open(file);
        return f.Keys.Order(StringComparer.Ordinal).ToArray();
    }

    [Theory]
    [InlineData("lora")]
    [InlineData("dora")]
    [InlineData("embedding")]
    public void Save_then_load_onto_a_fresh_base_reproduces_the_outputs_exactly(string variant)
    {
        var config = variant switch
        {
            "dora" => Config() with { UseDora = true },
            "embedding" => Config("embed_tokens", "q_proj") with { UseRslora = true },
            _ => Config(),
        };
        var peft = PeftModel.Create(Tiny(seed: 2), config, seed: 1);
        Randomize(peft, seed: 4);
        var adapted = Logits(peft);
        using var dir = Fixtures.NewTempDir();
        AdapterFolder.Save(peft, dir.Path, "tiny-llama");

        var fresh = Tiny(seed: 2);
        Assert.True(MaxDiff(Logits(fresh), adapted) > 1e-3);
        var loaded = AdapterFolder.Load(fresh, dir.Path);
        Assert.Equal(0.0, MaxDiff(Logits(fresh), adapted));
        Assert.Equal(config.UseDora, ((PeftSharp.Adapters.Lora.LoraConfig)loaded.Adapters["default"].Config).UseDora);
        Assert.Equal(config.UseRslora, ((PeftSharp.Adapters.Lora.LoraConfig)loaded.Adapters["default"].Config).UseRslora);
    }

    [Fact]
    public void Saved_keys_and_config_fields_are_exactly_PEFTs()
    {
        var peft = PeftModel.Create(Tiny(), Config(), seed: 1);
        using var dir = Fixtures.NewTempDir();
        AdapterFolder.Save(peft, dir.Path, "my/tiny-llama");

        var expected = new[]
        {
            "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
            "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight",
            "base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight",
            "base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight",
            "base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight",
            "base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight",
            "base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight",
            "base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight",
        };
        var file = Path.Combine(dir.Path, "adapter_model.safetensors");
        Assert.Equal(expected, KeysIn(file));
        using (var f = SafeTensorsFile.Open(file))
        {
            Assert.Equal(new long[] { 4, 32 }, f.GetInfo(expected[0]).Shape);
            Assert.Equal(new long[] { 16, 4 }, f.GetInfo(expected[3]).Shape); // v_proj: 2 kv heads x 8
            Assert.Equal("pt", f.Metadata["format"]);
        }

        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir.Path, "adapter_config.json")));
        var c = doc.RootElement;
        Assert.Equal("LORA", c.GetProperty("peft_type").GetString());
        Assert.Equal(4, c.GetProperty("r").GetInt32());
        Assert.Equal(8.0, c.GetProperty("lora_alpha").GetDouble());
        Assert.Equal(Qv, c.GetProperty("target_modules").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("CAUSAL_LM", c.GetProperty("task_type").GetString());
        Assert.Equal("my/tiny-llama", c.GetProperty("base_model_name_or_path").GetString());
        Assert.False(c.GetProperty("use_dora").GetBoolean());
        Assert.False(c.GetProperty("use_rslora").GetBoolean());
        Assert.Equal("none", c.GetProperty("bias").GetString());
        Assert.True(c.GetProperty("init_lora_weights").GetBoolean());
        Assert.True(c.GetProperty("inference_mode").GetBoolean());
        Assert.False(c.GetProperty("fan_in_fan_out").GetBoolean());
        Assert.Equal(0.0, c.GetProperty("lora_dropout").GetDouble());
        Assert.Equal(JsonValueKind.Null, c.GetProperty("modules_to_save").ValueKind);
        Assert.Equal(JsonValueKind.Object, c.GetProperty("rank_pattern").ValueKind);
    }

    [Fact]
    public void Dora_and_embedding_keys_drop_weight_and_other_adapters_go_to_a_sub_folder()
    {
        var peft = PeftModel.Create(Tiny(), Config("q_proj") with { UseDora = true, LayersToTransform = new[] { 0 } }, seed: 1);
        peft.AddAdapter("emb", Config("embed_tokens"), seed: 2);
        using var dir = Fixtures.NewTempDir();
        AdapterFolder.Save(peft, dir.Path);

        Assert.Equal(new[]
        {
            "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
            "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight",
            "base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector",
        }, KeysIn(Path.Combine(dir.Path, "adapter_model.safetensors")));
        Assert.Equal(new[] { "base_model.model.model.embed_tokens.lora_embedding_A", "base_model.model.model.embed_tokens.lora_embedding_B" },
            KeysIn(Path.Combine(dir.Path, "emb", "adapter_model.safetensors")));
        Assert.True(File.Exists(Path.Combine(dir.Path, "emb", "adapter_config.json")));
        Assert.False(File.Exists(Path.Combine(dir.Path, "default", "adapter_config.json")));
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir.Path, "adapter_config.json")));
        Assert.True(doc.RootElement.GetProperty("use_dora").GetBoolean());
        Assert.Equal(new[] { 0 }, doc.RootElement.GetProperty("layers_to_transform").EnumerateArray().Select(e => e.GetInt32()));

        var again = PeftModel.Create(Tiny(), Config(), seed: 3);
        AdapterFolder.LoadInto(again, Path.Combine(dir.Path, "emb"), "emb");
        Assert.Equal(new[] { "default", "emb" }, again.Adapters.Keys.Order());
    }

    internal const string PeftStyleConfig = """
        {
          "alpha_pattern": {},
          "auto_mapping": null,
          "base_model_name_or_path": "someone/tiny-llama",
          "bias": "none",
          "fan_in_fan_out": false,
          "inference_mode": true,
          "init_lora_weights": true,
          "layer_replication": null,
          "layers_pattern": null,
          "layers_to_transform": null,
          "lora_alpha": 16,
          "lora_dropout": 0.05,
          "megatron_config": null,
          "megatron_core": null,
          "modules_to_save": null,
          "peft_type": "LORA",
          "r": 4,
          "rank_pattern": {},
          "revision": null,
          "some_future_option": 3,
          "target_modules": ["v_proj", "q_proj"],
          "task_type": "CAUSAL_LM",
          "use_dora": false,
          "use_rslora": false
        }
        """;

    [Fact]
    public void A_PEFT_style_folder_written_key_by_key_loads_like_the_same_weights_injected_through_the_API()
    {
        using var gen = new Generator().manual_seed(21);
        var weights = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var layer in new[] { 0, 1 })
            foreach (var (proj, outDim) in new[] { ("q_proj", 32L), ("v_proj", 16L) })
            {
                var key = $"base_model.model.model.layers.{layer}.self_attn.{proj}";
                weights[key + ".lora_A.weight"] = randn(new long[] { 4, 32 }, generator: gen) * 0.2;
                weights[key + ".lora_B.weight"] = randn(new long[] { outDim, 4 }, generator: gen) * 0.2;
            }
        using var dir = Fixtures.NewTempDir();
        var extra = KeyValuePair.Create("base_model.model.model.layers.0.mlp.gate_proj.lora_A.weight", randn(4, 32));
        SafeTensorsWriter.Write(dir.File("adapter_model.safetensors"), weights.Append(extra));
        File.WriteAllText(dir.File("adapter_config.json"), PeftStyleConfig);

        PeftModel? loaded = null;
        var warnings = CaptureWarnings(() => loaded = AdapterFolder.Load(Tiny(seed: 6), dir.Path));
        Assert.Contains(warnings, w => w.Contains("some_future_option", StringComparison.Ordinal));
        Assert.Contains(warnings, w => w.Contains("mlp.gate_proj.lora_A.weight", StringComparison.Ordinal));
        Assert.Equal(16.0 / 4, ((LoraLinear)loaded!.Adapters["default"].Layers[0].Adapter).Scaling);
        loaded.SetTraining(false);
        var fromFolder = Logits(loaded);

        var model = Tiny(seed: 6);
        var api = PeftModel.Create(model, new LoraConfig { TargetModules = Qv, R = 4, LoraAlpha = 16 });
        using (no_grad())
            foreach (var (key, value) in weights)
            {
                var path = key["base_model.model.".Length..].Replace(".lora_A.", ".lora_A.default.").Replace(".lora_B.", ".lora_B.default.");
                Param(model, path).copy_(value);
            }
        var fromApi = Logits(model);
        Assert.True(MaxDiff(fromApi, Logits(Tiny(seed: 6))) > 1e-3, "the injected weights should change the output");
        Assert.Equal(0.0, MaxDiff(fromFolder, fromApi));
    }
}
