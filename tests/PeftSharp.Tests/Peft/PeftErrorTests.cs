using PeftSharp.Peft;
using PeftSharp.Tests.Support;
using static PeftSharp.Tests.Peft.LoraTestKit;

namespace PeftSharp.Tests.Peft;

/// <summary>Bad input gives a specific error whose message names the problem.</summary>
public class PeftErrorTests
{
    [Fact]
    public void Unknown_target_module_lists_the_available_linear_modules()
    {
        var ex = Assert.Throws<ConfigurationException>(() => PeftModel.Create(Tiny(), Config("q_proj", "qkv_proj")));
        Assert.Contains("'qkv_proj'", ex.Message);
        Assert.Contains("q_proj", ex.Message);
        Assert.Contains("down_proj", ex.Message);
        Assert.Contains("lm_head", ex.Message);
    }

    [Fact]
    public void An_adapter_for_a_different_base_names_the_key_and_both_shapes_and_leaves_the_model_clean()
    {
        var peft = PeftModel.Create(Tiny(hidden: 32), Config(), seed: 1);
        using var dir = Fixtures.NewTempDir();
        AdapterFolder.Save(peft, dir.Path);
        var other = Tiny(hidden: 48);
        var keysBefore = other.state_dict().Keys.ToArray();
        var ex = Assert.Throws<PeftSharpException>(() => AdapterFolder.Load(other, dir.Path));
        Assert.Contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", ex.Message);
        Assert.Contains("[4, 32]", ex.Message);
        Assert.Contains("[4, 48]", ex.Message);
        Assert.Contains("different base model", ex.Message);
        // A failed load must not leave half an adapter behind: loading a matching adapter afterwards works.
        Assert.Equal(keysBefore, other.state_dict().Keys.ToArray());
        Assert.All(other.parameters(), p => Assert.True(p.requires_grad)); // not left frozen either
        var ok = PeftModel.Create(other, Config());
        Assert.NotEmpty(ok.Adapters["default"].Layers);
    }

    [Fact]
    public void Missing_adapter_config_names_the_file()
    {
        using var dir = Fixtures.NewTempDir();
        File.WriteAllText(dir.File("adapter_model.safetensors"), "");
        var ex = Assert.Throws<PeftSharpException>(() => AdapterFolder.Load(Tiny(), dir.Path));
        Assert.Contains(dir.File("adapter_config.json"), ex.Message);
        Assert.Contains("adapter_model.safetensors", ex.Message); // what the folder holds
    }

    [Theory]
    [InlineData(0, 8, "r must be a positive integer, found 0")]
    [InlineData(-2, 8, "r must be a positive integer, found -2")]
    [InlineData(4, 0, "lora_alpha must be positive, found 0")]
    [InlineData(4, -1, "lora_alpha must be positive, found -1")]
    public void Non_positive_r_or_lora_alpha_is_a_configuration_error_naming_the_field(int r, double alpha, string message)
    {
        var ex = Assert.Throws<ConfigurationException>(() => PeftModel.Create(Tiny(), Config() with { R = r, LoraAlpha = alpha }));
        Assert.Contains(message, ex.Message);

        using var dir = Fixtures.NewTempDir();
        File.WriteAllText(dir.File("adapter_config.json"),
            $$"""{"peft_type": "LORA", "r": {{r}}, "lora_alpha": {{alpha}}, "target_modules": ["q_proj"]}""");
        var fromFile = Assert.Throws<ConfigurationException>(() => AdapterFolder.ReadConfig(dir.Path));
        Assert.Contains(message, fromFile.Message);
        Assert.Contains("adapter_config.json", fromFile.Message);
    }

    [Fact]
    public void A_config_for_an_unsupported_peft_type_is_refused_naming_the_supported_ones()
    {
        using var dir = Fixtures.NewTempDir();
        File.WriteAllText(dir.File("adapter_config.json"),
            """{"peft_type": "VERA", "target_modules": ["k_proj", "v_proj"], "r": 256}""");
        var ex = Assert.Throws<ConfigurationException>(() => AdapterFolder.Load(Tiny(), dir.Path));
        Assert.Contains("peft_type 'VERA' is not supported", ex.Message);
        Assert.Contains("LORA", ex.Message);
        Assert.Contains("adapter_config.json", ex.Message);
    }

    [Fact]
    public void Duplicate_adapter_names_and_unknown_adapters_are_errors()
    {
        var peft = PeftModel.Create(Tiny(), Config());
        Assert.Contains("already exists", Assert.Throws<ConfigurationException>(() => peft.AddAdapter("default", Config())).Message);
        Assert.Contains("no adapter named 'nope'", Assert.Throws<ConfigurationException>(() => peft.SetAdapter("nope")).Message);
    }
}
