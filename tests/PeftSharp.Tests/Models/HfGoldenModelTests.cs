using PeftSharp.Generation;
using PeftSharp.IO.SafeTensors;
using PeftSharp.Models;
using PeftSharp.Models.Llama;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Models;

/// <summary>Tiny random checkpoints saved by transformers 5, with the logits transformers computed for them.</summary>
public class HfGoldenModelTests
{
    public static TheoryData<string> Kinds => new() { "llama", "llama3", "qwen2", "mistral" };

    static LlamaForCausalLM LoadGolden(string kind, ScalarType dtype = ScalarType.Float32)
    {
        var dir = Fixtures.Golden($"models/{kind}");
        var cfg = LlamaConfig.FromFile(Path.Combine(dir, "config.json"));
        var model = new LlamaForCausalLM(cfg, dtype);
        using var src = SafeTensorsCheckpoint.Open(dir);
        var report = WeightLoader.Load(model, src, model.TiedKeys);
        Assert.Empty(report.Unexpected);
        return model;
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Logits_match_transformers_for_a_right_padded_batch(string kind)
    {
        var model = LoadGolden(kind);
        using var golden = SafeTensorsFile.Open(Fixtures.Golden($"models/{kind}/golden_logits.safetensors"));
        var ids = golden.Load("input_ids");
        var mask = golden.Load("attention_mask");
        var expected = golden.Load("logits");
        using var _ = no_grad();
        var logits = model.Forward(ids, mask);
        // Compare the positions that hold real tokens (transformers leaves padded positions unspecified).
        var valid = mask.to(ScalarType.Bool).unsqueeze(-1).expand_as(expected);
        var diff = (logits - expected).abs().masked_fill(valid.logical_not(), 0).max().item<float>();
        Assert.True(diff < 1e-4, $"{kind}: max |logits - transformers| = {diff}");
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Greedy_generation_matches_transformers(string kind)
    {
        var model = LoadGolden(kind);
        using var golden = SafeTensorsFile.Open(Fixtures.Golden($"models/{kind}/golden_logits.safetensors"));
        var expected = golden.Load("greedy").data<long>().Select(i => (int)i).ToArray();
        var prompt = expected.Take(7).ToArray();
        var result = new TextGenerator(model).Generate(prompt, new SamplingOptions { MaxNewTokens = expected.Length - 7 });
        Assert.Equal(expected.Skip(7), result.NewIds);
    }

    [Fact]
    public void Config_reads_both_transformers_4_and_5_rope_layouts()
    {
        var v5 = LlamaConfig.FromFile(Fixtures.Golden("models/llama3/config.json"));
        Assert.Equal(500000.0, v5.RopeTheta);
        Assert.Equal("llama3", v5.RopeScaling!.Type);
        Assert.Equal(8.0, v5.RopeScaling.Factor);
        Assert.Equal(16, v5.RopeScaling.OriginalMaxPositionEmbeddings);
        // Our writer uses the transformers 4 layout; reading it back gives the same config.
        using var tmp = Fixtures.NewTempDir();
        File.WriteAllText(tmp.File("config.json"), v5.ToJson().ToJsonString());
        var v4 = LlamaConfig.FromFile(tmp.File("config.json"));
        Assert.Equal(v5 with { TorchDtype = v4.TorchDtype }, v4 with { EosTokenIds = v5.EosTokenIds });
        Assert.True(LlamaConfig.FromFile(Fixtures.Golden("models/qwen2/config.json")).AttentionBias);
    }

    [Fact]
    public void Bf16_load_of_an_fp32_checkpoint_stays_close()
    {
        var f32 = LoadGolden("qwen2");
        var bf16 = LoadGolden("qwen2", ScalarType.BFloat16);
        Assert.Equal(ScalarType.BFloat16, bf16.model.embed_tokens.weight.dtype);
        var ids = tensor(new long[] { 1, 17, 45, 99, 3 }).unsqueeze(0);
        using var _ = no_grad();
        var diff = (f32.Forward(ids).softmax(-1) - bf16.Forward(ids).softmax(-1)).abs().max().item<float>();
        Assert.True(diff < 0.02, $"bf16 vs fp32 probability diff {diff}");
    }
}
