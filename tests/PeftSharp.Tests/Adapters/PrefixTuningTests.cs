using PeftSharp.Adapters.PrefixTuning;
using PeftSharp.IO.SafeTensors;
using PeftSharp.Peft;
using PeftSharp.Tests.Support;
using static PeftSharp.Tests.Peft.LoraTestKit;

namespace PeftSharp.Tests.Adapters;

/// <summary>Prefix tuning on tiny random models: shapes, masks, packing, gradients, folding, resume checkpoints, reports.</summary>
[Collection(GlobalRngCollection.Name)]
public class PrefixTuningTests
{
    static PrefixEncoder Encoder(PeftModel peft) => peft.Adapters["default"].Of<LayerPrefix>().First().Adapter.Encoder;

    static PrefixTuningConfig Projection => new() { NumVirtualTokens = 3, PrefixProjection = true, EncoderHiddenSize = 12 };

    [Fact]
    public void Each_layer_gets_PEFTs_slice_of_the_prefix_with_the_models_kv_heads()
    {
        var model = Tiny(seed: 2); // GQA: 4 query heads, 2 kv heads, head_dim 8
        var peft = PeftModel.Create(model, new PrefixTuningConfig { NumVirtualTokens = 5 }, seed: 1);
        var encoder = Encoder(peft);
        Assert.Equal(new long[] { 5, 2 * 2 * 16 }, encoder.embedding.weight!.shape);
        var saved = (PrefixTuningConfig)peft.Adapters["default"].Config.ForSave(peft.Adapters["default"], false);
        Assert.Equal((16, 2, 2, 16), (saved.TokenDim!.Value, saved.NumAttentionHeads!.Value, saved.NumLayers!.Value, saved.EncoderHiddenSize!.Value));
        // PEFT: view(B, n, 2L, kvH, D).permute(2, 0, 3, 1, 4): index 2l is layer l's keys, 2l+1 its values.
        var peftLayout = encoder.Output().unsqueeze(0).expand(3, -1, -1).reshape(3, 5, 4, 2, 8).permute(2, 0, 3, 1, 4);
        foreach (var (_, prefix) in peft.Adapters["default"].Of<LayerPrefix>())
        {
            var (k, v) = prefix.KeysValues(3, ScalarType.Float32, CPU);
            Assert.Equal(new long[] { 3, 2, 5, 8 }, k.shape);
            Assert.Equal(0, MaxDiff(k, peftLayout[2 * prefix.Layer]));
            Assert.Equal(0, MaxDiff(v, peftLayout[2 * prefix.Layer + 1]));
            Assert.Equal(ScalarType.BFloat16, prefix.KeysValues(1, ScalarType.BFloat16, CPU).Keys.dtype);
        }
    }

    [Fact]
    public void A_right_padded_batch_with_its_mask_gives_each_rows_logits_and_cached_decoding_matches()
    {
        var model = Tiny(seed: 3);
        var peft = PeftModel.Create(model, new PrefixTuningConfig { NumVirtualTokens = 4 }, seed: 2);
        using var _ = no_grad();
        var (a, batch) = PromptLearningTestKit.PaddedBatchMatchesRows(model);
        using (peft.DisableAdapters()) Assert.True(MaxDiff(model.Forward(TinyModels.Ids(a))[0], batch[0]) > 1e-3);

        using var cache = model.NewCache(a.Length + 1);
        model.Forward(TinyModels.Ids(a), cache: cache);
        var step = model.Forward(TinyModels.Ids(new long[] { 11 }), TinyModels.Ids(Enumerable.Repeat(1L, a.Length + 1).ToArray()), cache);
        Assert.True(MaxDiff(step[0, 0], model.Forward(TinyModels.Ids(a.Append(11).ToArray()))[0, -1]) < 1e-5);
    }

    [Fact]
    public void A_packed_row_gives_the_same_logits_and_loss_as_its_examples_run_alone()
    {
        var model = Tiny(seed: 4);
        PeftModel.Create(model, Projection, seed: 2);
        long[] a = { 1, 5, 9, 13, 17 }, b = { 1, 40, 41 }, c = { 1, 70, 71, 72 };
        var ids = a.Concat(b).Concat(c).Concat(new long[] { 0, 0 }).ToArray();
        var pos = new[] { a, b, c }.SelectMany(x => Enumerable.Range(0, x.Length).Select(i => (long)i)).Concat(new long[] { 0, 0 }).ToArray();
        var seq = new[] { a, b, c }.SelectMany((x, i) => Enumerable.Repeat((long)i, x.Length)).Concat(new long[] { -1, -1 }).ToArray();
        using var _ = no_grad();
        var packed = model.Forward(TinyModels.Ids(ids), positionIds: TinyModels.Ids(pos), sequenceIds: TinyModels.Ids(seq))[0];
        double packedLoss = 0, aloneLoss = 0;
        int offset = 0, tokens = 0;
        foreach (var x in new[] { a, b, c })
        {
            var alone = model.Forward(TinyModels.Ids(x))[0];
            var part = packed.narrow(0, offset, x.Length);
            Assert.True(MaxDiff(part, alone) < 1e-5, $"example at {offset}");
            var target = tensor(x.Skip(1).ToArray());
            packedLoss += nn.functional.cross_entropy(part.narrow(0, 0, x.Length - 1), target, reduction: nn.Reduction.Sum).item<float>();
            aloneLoss += nn.functional.cross_entropy(alone.narrow(0, 0, x.Length - 1), target, reduction: nn.Reduction.Sum).item<float>();
            tokens += x.Length - 1;
            offset += x.Length;
        }
        Assert.Equal(aloneLoss / tokens, packedLoss / tokens, 1e-5);
    }

    [Fact]
    public void Flat_prefix_gradients_on_a_tiny_fp64_llama_match_finite_differences()
    {
        var model = Tiny(seed: 5, dtype: ScalarType.Float64);
        PeftModel.Create(model, new PrefixTuningConfig { NumVirtualTokens = 3 }, seed: 3);
        model.to(ScalarType.Float64); // adapter tensors are fp32 by design; finite differences need fp64
        var p = Param(model, "prompt_encoder.default.embedding.weight");
        // columns: layer 0 keys 0..15, values 16..31, layer 1 keys 32..47, values 48..63; row 2 starts at 128
        var worst = FiniteDifferences.Check(model, Ids(), (p, new long[] { 3, 20, 37, 60, 64 + 5, 128 + 50 }));
        Assert.True(worst < 1e-7, $"max |analytic - finite difference| = {worst:E3}");
    }

    [Fact]
    public void Projection_MLP_gradients_on_a_tiny_fp64_llama_match_finite_differences()
    {
        var model = Tiny(seed: 6, dtype: ScalarType.Float64);
        PeftModel.Create(model, Projection, seed: 3);
        model.to(ScalarType.Float64);
        string P(string name) => "prompt_encoder.default." + name;
        var worst = FiniteDifferences.Check(model, Ids(),
            (Param(model, P("embedding.weight")), new long[] { 0, 9, 40 }),
            (Param(model, P("transform.0.weight")), new long[] { 1, 77, 150 }),
            (Param(model, P("transform.0.bias")), new long[] { 2, 11 }),
            (Param(model, P("transform.2.weight")), new long[] { 5, 300, 700 }),
            (Param(model, P("transform.2.bias")), new long[] { 0, 33, 63 }));
        Assert.True(worst < 1e-7, $"max |analytic - finite difference| = {worst:E3}");
    }

    [Fact]
    public void The_training_form_and_its_folded_save_give_the_same_outputs()
    {
        var model = Tiny(seed: 7);
        var peft = PeftModel.Create(model, Projection, seed: 4);
        Assert.True(Encoder(peft).Projection);
        var ids = Ids();
        var trained = Logits(model, ids);
        using var tmp = Fixtures.NewTempDir();
        AdapterFolder.Save(peft, tmp.Path);
        Assert.Equal(new[] { "prompt_embeddings" }, PromptLearningTestKit.SavedShapes(tmp.Path).Keys);
        Assert.Equal(new long[] { 3, 2 * 2 * 16 }, PromptLearningTestKit.SavedShapes(tmp.Path)["prompt_embeddings"]);
        var json = PromptLearningTestKit.ConfigJson(tmp.Path);
        Assert.True((bool)json["inference_mode"]! && (bool)json["prefix_projection"]!);
        var folded = AdapterFolder.Load(Tiny(seed: 7), tmp.Path);
        Assert.False(Encoder(folded).Projection);
        Assert.Contains("folded", folded.Adapters["default"].Config.Describe());
        Assert.True(MaxDiff(Logits(folded, ids), trained) < 1e-5);
    }

    [Fact]
    public void A_resume_checkpoint_keeps_the_training_form_and_a_folded_file_cannot_refill_it()
    {
        var model = Tiny(seed: 8);
        var peft = PeftModel.Create(model, Projection, seed: 5);
        using var tmp = Fixtures.NewTempDir();
        var checkpoint = Path.Combine(tmp.Path, "checkpoint");
        AdapterFolder.Save(peft, checkpoint, null, forResume: true);
        var keys = PromptLearningTestKit.SavedShapes(checkpoint).Keys.Order(StringComparer.Ordinal);
        Assert.Equal(new[] { "prompt_embeddings", "prompt_encoder.embedding.weight", "prompt_encoder.transform.0.bias",
            "prompt_encoder.transform.0.weight", "prompt_encoder.transform.2.bias", "prompt_encoder.transform.2.weight" }, keys);

        var other = Tiny(seed: 8);
        var resumed = PeftModel.Create(other, Projection, seed: 99);
        var warnings = CaptureWarnings(() => AdapterFolder.LoadWeights(resumed, "default", checkpoint));
        Assert.Empty(warnings);
        foreach (var (name, p) in model.named_parameters().Where(p => p.name.StartsWith("prompt_encoder", StringComparison.Ordinal)))
            Assert.Equal(0, MaxDiff(p, Param(other, name)));

        var final = Path.Combine(tmp.Path, "final");
        AdapterFolder.Save(peft, final);
        var e = Assert.Throws<PeftSharpException>(() => AdapterFolder.LoadWeights(resumed, "default", final));
        Assert.Contains("prefix_projection", e.Message);
        Assert.Contains("inference_mode", e.Message);
    }

    [Fact]
    public void Reports_describe_and_refuse_merging()
    {
        var model = Tiny(seed: 9);
        var peft = PeftModel.Create(model, Projection, seed: 1);
        // embedding 3*16, Linear(16, 12) 16*12+12, Linear(12, 64) 12*64+64
        Assert.Equal(3 * 16 + 16 * 12 + 12 + 12 * 64 + 64, peft.CountParameters().Trainable);
        Assert.Equal("prefix tuning, 3 virtual tokens, projection (encoder_hidden_size 12)", peft.Adapters["default"].Config.Describe());
        var e = Assert.Throws<ConfigurationException>(() => peft.Merge());
        Assert.Contains("cannot be merged", e.Message);
        var plain = Logits(Tiny(seed: 9));
        peft.DeleteAdapter("default");
        Assert.DoesNotContain(model.named_parameters(), p => p.name.Contains("prompt_encoder"));
        Assert.Equal(0, MaxDiff(Logits(model), plain));
    }

    [Fact]
    public void A_config_for_a_different_model_is_refused_by_name()
    {
        var e = Assert.Throws<ConfigurationException>(() => PeftModel.Create(Tiny(seed: 1), new PrefixTuningConfig { NumVirtualTokens = 2, TokenDim = 32 }));
        Assert.Contains("token_dim is 32 but the model needs 16", e.Message);
    }
}
