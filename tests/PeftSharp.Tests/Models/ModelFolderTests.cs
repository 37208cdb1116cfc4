using PeftSharp.IO.HuggingFace;
using PeftSharp.Models;
using PeftSharp.Models.Llama;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Models;

public class ModelFolderTests
{
    [Theory]
    [InlineData("llama", 4, false)]
    [InlineData("qwen2", 2, true)]
    [InlineData("mistral", 1, false)]
    public void A_folder_written_by_us_loads_back_to_the_same_function(string type, int kvHeads, bool tied)
    {
        var model = TinyModels.Random(TinyModels.Config(type, kvHeads, tied), seed: 11);
        using var tmp = Fixtures.NewTempDir();
        var dir = Path.Combine(tmp.Path, type);
        ModelFolderWriter.Save(model, dir, maxShardBytes: 40_000); // small shards: exercises the sharded index
        Assert.True(File.Exists(Path.Combine(dir, "model.safetensors.index.json")));
        using var loaded = PretrainedCausalLM.Load(dir);
        Assert.Equal(model.Config with { TorchDtype = "float32" }, loaded.Config with { EosTokenIds = model.Config.EosTokenIds });
        Assert.Equal(tied, loaded.Config.TieWordEmbeddings);
        var ids = TinyModels.Ids(new long[] { 1, 3, 5, 7, 9 });
        using var _ = no_grad();
        Assert.Equal(0f, (model.Forward(ids) - loaded.Model.Forward(ids)).abs().max().item<float>());
    }

    [Fact]
    public void Memory_mapped_weights_compute_the_same_and_writes_never_reach_the_file()
    {
        var model = TinyModels.Random(TinyModels.Config(tied: true), seed: 4);
        using var tmp = Fixtures.NewTempDir();
        var dir = Path.Combine(tmp.Path, "m");
        ModelFolderWriter.Save(model, dir);
        var ids = TinyModels.Ids(new long[] { 1, 2, 3, 4 });
        using var copied = PretrainedCausalLM.Load(dir, new ModelLoadOptions { MemoryMapped = false });
        using var mapped = PretrainedCausalLM.Load(dir, new ModelLoadOptions { MemoryMapped = true });
        using var _ = no_grad();
        var expected = copied.Model.Forward(ids);
        Assert.Equal(0f, (expected - mapped.Model.Forward(ids)).abs().max().item<float>());
        mapped.Model.model.embed_tokens.weight.mul_(2);   // copy-on-write: private to this model
        Assert.Same(mapped.Model.model.embed_tokens.weight, mapped.Model.lm_head.weight);
        using var again = PretrainedCausalLM.Load(dir);
        Assert.Equal(0f, (expected - again.Model.Forward(ids)).abs().max().item<float>());
    }

    /// <summary>Saves a tiny model, then edits one line of its config.json so it no longer matches the weights.</summary>
    static string SaveWithEditedConfig(TempDir tmp, string from, string to)
    {
        var dir = Path.Combine(tmp.Path, "m");
        ModelFolderWriter.Save(TinyModels.Random(TinyModels.Config(), seed: 1), dir);
        var path = Path.Combine(dir, "config.json");
        var text = File.ReadAllText(path);
        Assert.Contains(from, text);
        File.WriteAllText(path, text.Replace(from, to));
        return dir;
    }

    [Fact]
    public void A_checkpoint_that_does_not_match_its_config_names_the_key_and_both_shapes()
    {
        using var tmp = Fixtures.NewTempDir();
        var dir = SaveWithEditedConfig(tmp, "\"intermediate_size\": 48", "\"intermediate_size\": 64");
        var e = Assert.Throws<PeftSharpException>(() => PretrainedCausalLM.Load(dir));
        Assert.Contains("mlp.", e.Message);
        Assert.Contains("[48, 32]", e.Message);
        Assert.Contains("[64, 32]", e.Message);
    }

    [Fact]
    public void Missing_weights_are_listed()
    {
        using var tmp = Fixtures.NewTempDir();
        var dir = SaveWithEditedConfig(tmp, "\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3");
        var e = Assert.Throws<PeftSharpException>(() => PretrainedCausalLM.Load(dir));
        Assert.Contains("model.layers.2.", e.Message);
    }

    [Theory]
    [InlineData("{\"model_type\": \"gpt2\", \"vocab_size\": 10}", "model_type 'gpt2'")]
    [InlineData("{\"model_type\": \"llama\", \"vocab_size\": 10}", "hidden_size")]
    [InlineData("{\"model_type\": \"llama\", \"vocab_size\": \"ten\", \"hidden_size\": 8}", "'vocab_size' must be an integer")]
    [InlineData("{\"model_type\": \"llama\", \"vocab_size\": 10, \"hidden_size\": 8, \"intermediate_size\": 8, \"num_hidden_layers\": 1, \"num_attention_heads\": 3, \"num_key_value_heads\": 2}", "multiple of num_key_value_heads")]
    [InlineData("{\"model_type\": \"llama\", \"vocab_size\": 10, \"hidden_size\": 8, \"intermediate_size\": 8, \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"rope_scaling\": {\"rope_type\": \"yarn\"}}", "rope type 'yarn'")]
    [InlineData("[1, 2]", "JSON object")]
    [InlineData("{\"model_type\": ", "not valid JSON")]
    public void Bad_config_json_is_rejected_with_the_field_named(string json, string expected)
    {
        using var tmp = Fixtures.NewTempDir();
        File.WriteAllText(tmp.File("config.json"), json);
        var e = Assert.ThrowsAny<PeftSharpException>(() => LlamaConfig.FromFile(tmp.File("config.json")));
        Assert.Contains(expected, e.Message);
        Assert.Contains("config.json", e.Message);
    }

    [Fact]
    public void Repo_ids_resolve_through_the_hugging_face_cache_layout()
    {
        using var tmp = Fixtures.NewTempDir();
        var repo = Path.Combine(tmp.Path, "hub", "models--tiny-org--tiny-llama");
        const string commit = "0123456789abcdef0123456789abcdef01234567";
        Directory.CreateDirectory(Path.Combine(repo, "refs"));
        File.WriteAllText(Path.Combine(repo, "refs", "main"), commit + "\n");
        var snapshot = Path.Combine(repo, "snapshots", commit);
        ModelFolderWriter.Save(TinyModels.Random(TinyModels.Config(), 2), snapshot);
        var old = Environment.GetEnvironmentVariable("HF_HUB_CACHE");
        try
        {
            Environment.SetEnvironmentVariable("HF_HUB_CACHE", Path.Combine(tmp.Path, "hub"));
            Assert.Equal(snapshot, ModelLocator.Resolve("tiny-org/tiny-llama").Path);
            Assert.Equal(snapshot, ModelLocator.Resolve("tiny-org/tiny-llama@" + commit).Path);
            // Offline, so a revision the cache lacks is reported rather than downloaded.
            var offline = HubOptions.FromEnvironment() with { Offline = true };
            var e = Assert.Throws<HubException>(() => ModelLocator.Resolve("tiny-org/tiny-llama@v2", offline));
            Assert.Contains("refs", e.Message);
            using var lm = PretrainedCausalLM.Load("tiny-org/tiny-llama");
            Assert.Equal(2, lm.Config.NumHiddenLayers);
        }
        finally
        {
            Environment.SetEnvironmentVariable("HF_HUB_CACHE", old);
        }
    }

    [Fact]
    public void Pickle_checkpoints_are_refused_with_a_safetensors_hint()
    {
        using var tmp = Fixtures.NewTempDir();
        File.WriteAllBytes(tmp.File("pytorch_model.bin"), new byte[] { 0x80, 0x02, 0x7d, 0x71, 0x00, 0x28, 0x58, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23 });
        var e = Assert.Throws<PeftSharpException>(() => ModelLocator.Resolve(tmp.File("pytorch_model.bin")));
        Assert.Contains("safetensors", e.Message);
    }
}
