using PeftSharp.Generation;
using PeftSharp.Models.Llama;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Models;

public class LlamaModelTests
{
    [Theory]
    [InlineData("llama", 4)]   // multi-head
    [InlineData("llama", 2)]   // grouped-query
    [InlineData("qwen2", 1)]   // multi-query with q/k/v biases
    public void Forward_equals_a_naive_reference_implementation(string type, int kvHeads)
    {
        var cfg = TinyModels.Config(type, kvHeads);
        var model = TinyModels.Random(cfg, seed: 3);
        var ids = TinyModels.Ids(new long[] { 1, 5, 9, 33, 2, 70, 11 });
        using var _ = no_grad();
        var logits = model.Forward(ids);
        var expected = NaiveLlama.Logits(model, ids);
        Assert.True(logits.allclose(expected, rtol: 1e-4, atol: 1e-4), $"max diff {(logits - expected).abs().max().item<float>()}");
    }

    [Fact]
    public void Kv_cache_generation_equals_full_recompute()
    {
        var model = TinyModels.Random(TinyModels.Config(kvHeads: 2), seed: 5);
        var gen = new TextGenerator(model);
        var prompt = new[] { 1, 7, 19, 4 };
        var cached = gen.Generate(prompt, new SamplingOptions { MaxNewTokens = 20 });
        var full = gen.Generate(prompt, new SamplingOptions { MaxNewTokens = 20, UseKvCache = false });
        Assert.Equal(full.NewIds, cached.NewIds);

        // Sampling with the same seed takes the same path with and without the cache too.
        var s1 = gen.Generate(prompt, new SamplingOptions { MaxNewTokens = 20, DoSample = true, Temperature = 0.9, TopK = 20, TopP = 0.9, Seed = 42 });
        var s2 = gen.Generate(prompt, new SamplingOptions { MaxNewTokens = 20, DoSample = true, Temperature = 0.9, TopK = 20, TopP = 0.9, Seed = 42, UseKvCache = false });
        Assert.Equal(s2.NewIds, s1.NewIds);
    }

    [Fact]
    public void Cached_logits_equal_full_logits_position_by_position()
    {
        var model = TinyModels.Random(TinyModels.Config(kvHeads: 1), seed: 6);
        var ids = TinyModels.Ids(new long[] { 1, 8, 16, 32, 64, 3, 9, 27 });
        using var _ = no_grad();
        var full = model.Forward(ids);
        using var cache = model.NewCache(16);
        var first = model.Forward(ids.narrow(1, 0, 5), cache: cache);               // prefill 5
        var chunk = model.Forward(ids.narrow(1, 5, 2), cache: cache);               // two more at once
        var last = model.Forward(ids.narrow(1, 7, 1), cache: cache);                // one more
        var stitched = cat(new[] { first, chunk, last }, 1);
        Assert.True(stitched.allclose(full, rtol: 1e-4, atol: 1e-5));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Padded_batch_logits_equal_unpadded_per_sequence_logits(bool leftPadding)
    {
        var model = TinyModels.Random(TinyModels.Config(kvHeads: 2), seed: 8);
        long[] a = { 1, 4, 9, 16, 25, 36, 49 };
        long[] b = { 1, 8, 27, 64 };
        using var _ = no_grad();
        var la = model.Forward(TinyModels.Ids(a));
        var lb = model.Forward(TinyModels.Ids(b));
        int pad = a.Length - b.Length;
        long[] bPadded = leftPadding ? Enumerable.Repeat(0L, pad).Concat(b).ToArray() : b.Concat(Enumerable.Repeat(0L, pad)).ToArray();
        long[] maskB = leftPadding ? Enumerable.Repeat(0L, pad).Concat(Enumerable.Repeat(1L, b.Length)).ToArray()
                                   : Enumerable.Repeat(1L, b.Length).Concat(Enumerable.Repeat(0L, pad)).ToArray();
        var ids = TinyModels.Ids(a, bPadded);
        var mask = TinyModels.Ids(Enumerable.Repeat(1L, a.Length).ToArray(), maskB);
        var batch = model.Forward(ids, mask);
        Assert.True(batch[0].unsqueeze(0).allclose(la, rtol: 1e-4, atol: 1e-5));
        var bValid = batch[1].narrow(0, leftPadding ? pad : 0, b.Length).unsqueeze(0);
        Assert.True(bValid.allclose(lb, rtol: 1e-4, atol: 1e-5), $"max diff {(bValid - lb).abs().max().item<float>()}");
        Assert.False(batch.isnan().any().item<bool>());
    }

    [Fact]
    public void Tied_head_shares_the_embedding_table()
    {
        var model = TinyModels.Random(TinyModels.Config(tied: true), seed: 1);
        Assert.Same(model.model.embed_tokens.weight, model.lm_head.weight);
        using (no_grad()) model.model.embed_tokens.weight[0, 0] = 123f;
        Assert.Equal(123f, model.lm_head.weight[0, 0].item<float>());
        Assert.Contains("lm_head.weight", model.TiedKeys);
    }

    [Fact]
    public void Bf16_model_tracks_the_fp32_model()
    {
        var cfg = TinyModels.Config(kvHeads: 2);
        var f32 = TinyModels.Random(cfg, seed: 9);
        var bf16 = new LlamaForCausalLM(cfg, ScalarType.BFloat16);
        using (no_grad())
        {
            var src = f32.state_dict();
            foreach (var (k, v) in bf16.state_dict()) v.copy_(src[k]);
        }
        var ids = TinyModels.Ids(new long[] { 1, 2, 3, 4, 5, 6 });
        using var _ = no_grad();
        var a = f32.Forward(ids).softmax(-1);
        var b = bf16.Forward(ids).softmax(-1);
        Assert.Equal(ScalarType.Float32, b.dtype);
        Assert.True((a - b).abs().max().item<float>() < 0.05f);
    }
}
