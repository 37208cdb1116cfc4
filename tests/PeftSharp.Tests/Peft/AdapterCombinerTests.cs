using PeftSharp.Adapters.Lora;
using PeftSharp.Peft;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Peft;

public class AdapterCombinerTests
{
    static PeftModel TwoAdapters(int rank2 = 4)
    {
        var model = TinyModels.Random(TinyModels.Config(), seed: 21);
        var peft = PeftModel.Create(model, new LoraConfig { R = 4, LoraAlpha = 8, TargetModules = new[] { "q_proj", "v_proj", "embed_tokens" } }, "a", seed: 1);
        peft.AddAdapter("b", new LoraConfig { R = rank2, LoraAlpha = 3, UseRslora = true, TargetModules = new[] { "q_proj", "o_proj", "embed_tokens" } }, seed: 2);
        using var _ = no_grad();
        using var gen = new Generator().manual_seed(5);
        foreach (var (name, p) in model.named_parameters())
            if (name.Contains("lora_B") || name.Contains("lora_embedding_A")) p.copy_(randn(p.shape, generator: gen) * 0.3);
        return peft;
    }

    static Tensor Delta(PeftModel peft, string adapter, string path)
    {
        var layer = peft.Adapters[adapter].Layers.FirstOrDefault(l => l.ModulePath == path);
        return layer?.Adapter switch
        {
            LoraLinear l => l.DeltaWeight(),
            LoraEmbedding e => e.DeltaWeight(),
            _ => zeros(1),
        };
    }

    [Fact]
    public void Cat_combination_is_exactly_the_weighted_sum_of_deltas()
    {
        var peft = TwoAdapters(rank2: 2);
        var combined = AdapterCombiner.AddWeighted(peft, new[] { "a", "b" }, new[] { 0.7, -1.3 }, "ab", "cat");
        Assert.Equal(new[] { "model.embed_tokens", "model.layers.0.self_attn.o_proj", "model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj" },
            combined.Layers.Select(l => l.ModulePath).Where(p => !p.Contains("layers.1")).Order());
        using var _ = no_grad();
        foreach (var layer in combined.Layers)
        {
            var expected = 0.7 * Delta(peft, "a", layer.ModulePath) + -1.3 * Delta(peft, "b", layer.ModulePath);
            var actual = Delta(peft, "ab", layer.ModulePath);
            Assert.True(actual.allclose(expected, rtol: 1e-5, atol: 1e-6), layer.ModulePath);
        }
        // The q_proj rank is the sum of both ranks; o_proj only has b's.
        Assert.Equal(6, ((LoraLinear)combined.Layers.First(l => l.ModulePath.EndsWith("0.self_attn.q_proj")).Adapter).Rank);
        Assert.Equal(2, ((LoraLinear)combined.Layers.First(l => l.ModulePath.EndsWith("0.self_attn.o_proj")).Adapter).Rank);
    }

    [Fact]
    public void Linear_combination_follows_PEFTs_formula_and_needs_equal_ranks()
    {
        var peft = TwoAdapters();
        var combined = AdapterCombiner.AddWeighted(peft, new[] { "a", "b" }, new[] { 0.5, 2.0 }, "lin", "linear");
        var path = "model.layers.1.self_attn.q_proj";
        var a = (LoraLinear)peft.Adapters["a"].Layers.First(l => l.ModulePath == path).Adapter;
        var b = (LoraLinear)peft.Adapters["b"].Layers.First(l => l.ModulePath == path).Adapter;
        var c = (LoraLinear)combined.Layers.First(l => l.ModulePath == path).Adapter;
        double ca = Math.Sqrt(0.5 * a.Scaling), cb = Math.Sqrt(2.0 * b.Scaling);
        using var _ = no_grad();
        Assert.True(c.A.weight.allclose(a.A.weight * ca + b.A.weight * cb, 1e-5, 1e-6));
        Assert.True(c.B.weight.allclose(a.B.weight * ca + b.B.weight * cb, 1e-5, 1e-6));
        Assert.Equal(1.0, c.Scaling);

        var uneven = TwoAdapters(rank2: 2);
        var e = Assert.Throws<ConfigurationException>(() => AdapterCombiner.AddWeighted(uneven, new[] { "a", "b" }, new[] { 1.0, 1.0 }, "x", "linear"));
        Assert.Contains("same rank", e.Message);
    }

    [Fact]
    public void DoRA_and_unknown_adapters_are_refused()
    {
        var model = TinyModels.Random(TinyModels.Config(), seed: 2);
        var peft = PeftModel.Create(model, new LoraConfig { TargetModules = new[] { "q_proj" }, UseDora = true });
        Assert.Contains("DoRA", Assert.Throws<ConfigurationException>(() => AdapterCombiner.AddWeighted(peft, new[] { "default" }, new[] { 1.0 }, "x")).Message);
        Assert.Contains("no adapter named 'nope'", Assert.Throws<ConfigurationException>(() => AdapterCombiner.AddWeighted(peft, new[] { "nope" }, new[] { 1.0 }, "x")).Message);
    }
}
