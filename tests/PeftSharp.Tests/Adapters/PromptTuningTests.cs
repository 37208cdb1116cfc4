using PeftSharp.Adapters.PromptTuning;
using PeftSharp.Peft;
using PeftSharp.Tests.Support;
using PeftSharp.Tokenization;
using static PeftSharp.Tests.Peft.LoraTestKit;

namespace PeftSharp.Tests.Adapters;

/// <summary>Prompt tuning on tiny random models: shapes, masks, packing, gradients, init, reports.</summary>
[Collection(GlobalRngCollection.Name)]
public class PromptTuningTests
{
    static PromptEmbedding Prompt(PeftModel peft) => peft.Adapters["default"].Of<PromptEmbedding>().Single().Adapter;

    [Fact]
    public void Virtual_tokens_are_fp32_parameters_cast_per_call_and_callers_keep_their_positions()
    {
        var model = Tiny(seed: 2);
        var peft = PeftModel.Create(model, new PromptTuningConfig { NumVirtualTokens = 3 }, seed: 1);
        var prompt = Prompt(peft);
        Assert.Equal(new long[] { 3, 32 }, prompt.Weight.shape);
        Assert.Equal(ScalarType.Float32, prompt.Weight.dtype);
        using var e = prompt.Embeddings(2, ScalarType.BFloat16, CPU);
        Assert.Equal(new long[] { 2, 3, 32 }, e.shape);
        Assert.Equal(ScalarType.BFloat16, e.dtype);
        Assert.Equal(new[] { "prompt_encoder.default.embedding.weight" },
            model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => p.name));
        var ids = Ids();
        var logits = Logits(model, ids);
        Assert.Equal(new long[] { 2, 9, 97 }, logits.shape);
        using (peft.DisableAdapters()) Assert.True(MaxDiff(Logits(model, ids), logits) > 1e-3);
    }

    [Fact]
    public void A_right_padded_batch_with_its_mask_gives_each_rows_logits_and_cached_decoding_extends_the_mask()
    {
        var model = Tiny(seed: 3);
        PeftModel.Create(model, new PromptTuningConfig { NumVirtualTokens = 4 }, seed: 2);
        using var _ = no_grad();
        var (a, batch) = PromptLearningTestKit.PaddedBatchMatchesRows(model);

        // Decoding with a cache: the prompt, then one token with the mask of all the caller's positions.
        using var cache = model.NewCache(a.Length + 1);
        Assert.Equal(a.Length + 1 + 4, cache.Capacity);
        model.Forward(TinyModels.Ids(a), TinyModels.Ids(Enumerable.Repeat(1L, a.Length).ToArray()), cache);
        var step = model.Forward(TinyModels.Ids(new long[] { 11 }), TinyModels.Ids(Enumerable.Repeat(1L, a.Length + 1).ToArray()), cache);
        var full = model.Forward(TinyModels.Ids(a.Append(11).ToArray()));
        Assert.True(MaxDiff(step[0, 0], full[0, -1]) < 1e-5);
    }

    [Fact]
    public void Packed_rows_are_refused_with_a_clear_error()
    {
        var model = Tiny(seed: 4);
        PeftModel.Create(model, new PromptTuningConfig { NumVirtualTokens = 2 }, seed: 2);
        var ids = TinyModels.Ids(new long[] { 1, 5, 9, 1, 40 });
        var e = Assert.Throws<ConfigurationException>(() => model.Forward(ids, positionIds: TinyModels.Ids(new long[] { 0, 1, 2, 0, 1 }),
            sequenceIds: TinyModels.Ids(new long[] { 0, 0, 0, 1, 1 })));
        Assert.Contains("sample_packing", e.Message);
    }

    [Fact]
    public void Prompt_embedding_gradients_on_a_tiny_fp64_llama_match_finite_differences()
    {
        var model = Tiny(seed: 5, dtype: ScalarType.Float64);
        var peft = PeftModel.Create(model, new PromptTuningConfig { NumVirtualTokens = 3 }, seed: 3);
        model.to(ScalarType.Float64); // the table is fp32 by design; finite differences need fp64
        var p = Param(model, "prompt_encoder.default.embedding.weight");
        Assert.Equal(ScalarType.Float64, p.dtype);
        Assert.True(p.requires_grad);
        var worst = FiniteDifferences.Check(model, Ids(), (p, new long[] { 0, 17, 40, 95 }));
        Assert.True(worst < 1e-7, $"max |analytic - finite difference| = {worst:E3}");
    }

    [Fact]
    public void Text_init_copies_the_word_embeddings_of_the_init_ids_repeated_or_truncated_as_PEFT()
    {
        Assert.Equal(new[] { 1, 2, 3, 1, 2, 3, 1 }, PromptTuningConfig.FitToLength(new[] { 1, 2, 3 }, 7));
        Assert.Equal(new[] { 1, 2 }, PromptTuningConfig.FitToLength(new[] { 1, 2, 3 }, 2));
        Assert.Equal(new[] { 4, 5, 6 }, PromptTuningConfig.FitToLength(new[] { 4, 5, 6 }, 3));

        var config = (PromptTuningConfig)new PromptTuningConfig { NumVirtualTokens = 5, PromptTuningInit = "TEXT", PromptTuningInitText = "classify:" }
            .WithTokenizer(new FixedTokenizer(1, 30, 44));
        Assert.Equal(new[] { 1, 30, 44 }, config.InitTokenIds);
        var model = Tiny(seed: 6);
        var peft = PeftModel.Create(model, config, seed: 1);
        var expected = model.model.embed_tokens.weight.index_select(0, tensor(new long[] { 1, 30, 44, 1, 30 }));
        Assert.Equal(0, MaxDiff(Prompt(peft).Weight, expected));
        Assert.Contains("init TEXT \"classify:\"", config.Describe());

        var untokenized = new PromptTuningConfig { NumVirtualTokens = 2, PromptTuningInit = "TEXT", PromptTuningInitText = "x" };
        var e = Assert.Throws<ConfigurationException>(() => PeftModel.Create(Tiny(seed: 6), untokenized));
        Assert.Contains("WithTokenizer", e.Message);
        Assert.Throws<ConfigurationException>(() => new PromptTuningConfig { PromptTuningInit = "TEXT" }.Validate());
    }

    [Fact]
    public void Sample_vocab_init_takes_rows_of_the_vocabulary()
    {
        var model = Tiny(seed: 7);
        var peft = PeftModel.Create(model, new PromptTuningConfig { NumVirtualTokens = 4, PromptTuningInit = "SAMPLE_VOCAB" }, seed: 4);
        var vocab = model.model.embed_tokens.weight;
        for (int i = 0; i < 4; i++)
            Assert.True((vocab - Prompt(peft).Weight[i]).abs().sum(1).min().item<float>() == 0, $"row {i} is not a vocabulary row");
    }

    [Fact]
    public void Saved_config_always_names_the_task_PEFT_needs_to_feed_the_virtual_tokens()
    {
        // PEFT loads a folder without task_type as a plain PeftModel, which ignores prompt tuning's virtual tokens.
        foreach (var config in new PeftSharp.Adapters.PromptLearningConfig[]
            { new PromptTuningConfig { NumVirtualTokens = 2, TaskType = null }, new PeftSharp.Adapters.PrefixTuning.PrefixTuningConfig { NumVirtualTokens = 2, TaskType = null } })
        {
            var peft = PeftModel.Create(Tiny(seed: 2), config, seed: 1);
            using var dir = Fixtures.NewTempDir();
            AdapterFolder.Save(peft, dir.Path);
            Assert.Equal("CAUSAL_LM", (string?)PromptLearningTestKit.ConfigJson(dir.Path)["task_type"]);
        }
    }

    [Fact]
    public void Reports_describe_and_refuse_merging()
    {
        var model = Tiny(seed: 8);
        var before = model.parameters().Sum(p => p.numel());
        var peft = PeftModel.Create(model, new PromptTuningConfig { NumVirtualTokens = 6 }, seed: 1);
        Assert.Equal((6L * 32, before + 6 * 32), peft.CountParameters());
        Assert.Contains("trainable params: 192 ||", peft.TrainableReport());
        Assert.Equal("prompt tuning, 6 virtual tokens, init RANDOM", peft.Adapters["default"].Config.Describe());
        var e = Assert.Throws<ConfigurationException>(() => peft.Merge());
        Assert.Contains("cannot be merged", e.Message);

        var ids = Ids();
        var plain = Logits(Tiny(seed: 8), ids);
        peft.DeleteAdapter("default");
        Assert.DoesNotContain(model.named_parameters(), p => p.name.Contains("prompt_encoder"));
        Assert.Equal(0, MaxDiff(Logits(model, ids), plain));
    }

    /// <summary>A tokenizer that gives the same ids for any text (what WithTokenizer needs).</summary>
    sealed class FixedTokenizer(params int[] ids) : ITextTokenizer
    {
        public int VocabSize => 97;
        public int? BosId => 1;
        public int? EosId => 2;
        public int? PadId => null;
        public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true) => ids;
        public string Decode(IEnumerable<int> tokens, bool skipSpecialTokens = true) => "";
        public string IdToToken(int id) => "";
        public int? TokenToId(string token) => null;
    }
}
