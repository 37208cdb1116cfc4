using PeftSharp.Training;
using System.Text.Json.Nodes;
using PeftSharp.Data;
using PeftSharp.Data.Classification;
using PeftSharp.Tests.Support;
using PeftSharp.Tokenization;

namespace PeftSharp.Tests.Data;

/// <summary>Classification data: label maps, class weights, reading text/label columns, and batching.</summary>
public class ClassificationDataTests
{
    /// <summary>A tokenizer whose ids are the characters' codes (plus BOS 1), so expected ids are easy to write.</summary>
    sealed class CharTokenizer : ITextTokenizer
    {
        public int VocabSize => 256;
        public int? BosId => 1;
        public int? EosId => 2;
        public int? PadId => 0;
        public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true) =>
            (addSpecialTokens ? new[] { 1 } : []).Concat(text.Select(c => (int)c)).ToList();
        public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true) => new(ids.Where(i => i > 2).Select(i => (char)i).ToArray());
        public string IdToToken(int id) => ((char)id).ToString();
        public int? TokenToId(string token) => token.Length == 1 ? token[0] : null;
    }

    [Fact]
    public void Integer_labels_keep_their_ids_and_names_sort_for_the_same_ids_every_time()
    {
        Assert.Equal(new[] { "0", "1", "2" }, LabelMap.FromValues(new[] { "2", "0", "1", "0" }).Names);
        Assert.Equal(new[] { "Business", "Sci/Tech", "Sports", "World" }, LabelMap.FromValues(new[] { "World", "Sports", "Business", "Sci/Tech", "World" }).Names);
        var named = new LabelMap(new[] { "negative", "positive" });
        Assert.Equal(1, named.TryId("positive"));
        Assert.Equal(1, named.TryId("1"));
        Assert.Null(named.TryId("2"));
        Assert.Null(named.TryId("neutral"));
        Assert.Contains("0..K-1", Assert.Throws<ConfigurationException>(() => LabelMap.FromValues(new[] { "1", "2" })).Message);
        Assert.Contains("at least 2", Assert.Throws<ConfigurationException>(() => LabelMap.FromValues(new[] { "a", "a" })).Message);
        var config = new JsonObject();
        named.WriteTo(config);
        Assert.Equal("positive", config["id2label"]!["1"]!.GetValue<string>());
        Assert.Equal(0, config["label2id"]!["negative"]!.GetValue<int>());
        Assert.Equal(2, config["num_labels"]!.GetValue<int>());
    }

    [Fact]
    public void Balanced_weights_are_n_over_k_times_count_and_explicit_weights_are_checked()
    {
        var map = new LabelMap(new[] { "a", "b", "c" });
        // 6 examples, counts 3/2/1: 6/(3*3), 6/(3*2), 6/(3*1)
        var w = ClassWeights.Resolve("balanced", new[] { 0, 0, 0, 1, 1, 2 }, map)!;
        Assert.Equal(new[] { 2f / 3, 1f, 2f }, w);
        Assert.Null(ClassWeights.Resolve("none", new[] { 0 }, map));
        Assert.Equal(new[] { 1f, 2.5f, 3f }, ClassWeights.Resolve("1, 2.5, 3", new[] { 0 }, map));
        Assert.Contains("one weight per label", Assert.Throws<ConfigurationException>(() => ClassWeights.Resolve("1,2", new[] { 0 }, map)).Message);
        Assert.Contains("positive number", Assert.Throws<ConfigurationException>(() => ClassWeights.Resolve("1,-2,3", new[] { 0 }, map)).Message);
    }

    [Fact]
    public void Tsv_with_header_and_jsonl_read_text_and_labels_and_truncate()
    {
        using var dir = Fixtures.NewTempDir();
        File.WriteAllText(dir.File("d.tsv"), "sentence\tlabel\nabc\t1\nde\t0\nfghijk\t1\n");
        var data = ClassificationDataset.Build(new DatasetConfig { Path = dir.File("d.tsv"), TextField = "sentence", MaxSeqLength = 4 }, new CharTokenizer());
        Assert.Equal(new[] { "0", "1" }, data.Labels.Names);
        Assert.Equal(new[] { 1, 'a', 'b', 'c' }, data.Train[0].InputIds);
        Assert.Equal(new[] { 1, 0, 1 }, data.Train.Select(e => e.Label));
        Assert.Equal(4, data.Train[2].InputIds.Length);
        Assert.Equal(1, data.Truncated);

        File.WriteAllText(dir.File("d.jsonl"), "{\"text\":\"x\",\"label\":\"spam\"}\n{\"text\":\"y\",\"label\":\"ham\"}\n{\"text\":\"z\"}\n");
        var warnings = new List<string>();
        using (Diagnostics.RedirectWarnings(warnings.Add))
        {
            var j = ClassificationDataset.Build(new DatasetConfig { Path = dir.File("d.jsonl") }, new CharTokenizer());
            Assert.Equal(new[] { "ham", "spam" }, j.Labels.Names);
            Assert.Equal(new[] { 1, 0 }, j.Train.Select(e => e.Label));
            Assert.Equal(1, j.RecordsSkipped);
        }
        Assert.Contains(warnings, w => w.Contains("missing label"));
    }

    [Fact]
    public void Labels_outside_the_models_set_and_empty_files_fail_with_the_fix()
    {
        using var dir = Fixtures.NewTempDir();
        File.WriteAllText(dir.File("d.csv"), "text,label\nhello,positive\nbye,neutral\n");
        var e = Assert.Throws<ConfigurationException>(() =>
            ClassificationDataset.Build(new DatasetConfig { Path = dir.File("d.csv") }, new CharTokenizer(), new LabelMap(new[] { "negative", "positive" })));
        Assert.Contains("'neutral' is not one of the model's labels", e.Message);
        Assert.Contains("d.csv:3", e.Message);
        File.WriteAllText(dir.File("empty.csv"), "text,label\n");
        Assert.Contains("no usable rows", Assert.Throws<ConfigurationException>(() =>
            ClassificationDataset.Build(new DatasetConfig { Path = dir.File("empty.csv") }, new CharTokenizer())).Message);
    }

    [Fact]
    public void Headerless_tsv_splits_into_train_and_eval_with_a_seed()
    {
        using var dir = Fixtures.NewTempDir();
        File.WriteAllLines(dir.File("news.tsv"), Enumerable.Range(0, 50).Select(i => $"story {i}\t{(i % 2 == 0 ? "World" : "Sports")}"));
        var config = new DatasetConfig { Path = dir.File("news.tsv"), ColumnNames = new[] { "text", "label" }, EvalSplit = 0.2, Seed = 7 };
        var a = ClassificationDataset.Build(config, new CharTokenizer());
        var b = ClassificationDataset.Build(config, new CharTokenizer());
        Assert.Equal(40, a.Train.Count);
        Assert.Equal(10, a.Eval.Count);
        Assert.Equal(a.Eval.Select(e => string.Join(",", e.InputIds)), b.Eval.Select(e => string.Join(",", e.InputIds)));
        Assert.Empty(a.Eval.Select(e => string.Join(",", e.InputIds)).Intersect(a.Train.Select(e => string.Join(",", e.InputIds))));
    }

    [Fact]
    public void Batches_are_right_padded_with_a_mask_and_shuffled_the_same_way_per_epoch()
    {
        var examples = Enumerable.Range(0, 10).Select(i => new ClassificationExample(Enumerable.Range(10, 1 + i % 3).ToArray(), i % 2)).ToList();
        var source = new ClassificationBatchSource(examples, 4, padId: 0, shuffle: true, seed: 3);
        Assert.Equal(3, source.BatchesPerEpoch);
        Assert.Equal(source.Order(1), new ClassificationBatchSource(examples, 4, 0, true, 3).Order(1));
        Assert.NotEqual(source.Order(0), source.Order(1));
        Assert.Equal(Enumerable.Range(0, 10), source.Order(0).Order());
        var batches = source.Epoch(0).ToList();
        Assert.Equal(new[] { 4, 4, 2 }, batches.Select(b => (int)b.Labels.shape[0]));
        var first = batches[0];
        var order = source.Order(0);
        var ids = first.InputIds.data<long>().ToArray();
        var mask = first.AttentionMask!.data<long>().ToArray();
        long t = first.InputIds.shape[1];
        Assert.Equal(order.Take(4).Max(i => examples[i].InputIds.Length), t);
        for (int r = 0; r < 4; r++)
        {
            var ex = examples[order[r]];
            Assert.Equal(ex.Label, first.Labels[r].item<long>());
            for (int c = 0; c < t; c++)
            {
                Assert.Equal(c < ex.InputIds.Length ? ex.InputIds[c] : 0, ids[r * t + c]);
                Assert.Equal(c < ex.InputIds.Length ? 1 : 0, mask[r * t + c]);
            }
        }
        foreach (var b in batches) b.Dispose();
    }
}
