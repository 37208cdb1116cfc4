using PeftSharp.Data;
using PeftSharp.Tests.Support;
using PeftSharp.Tokenization.Llama2c;

namespace PeftSharp.Tests.Data;

public class DatasetBuilderTests
{
    static Llama2cTokenizer Tok() => new(Fixtures.Require("models", "stories260K", "tok512.bin"), 512);

    static T Quiet<T>(Func<T> f)
    {
        using (Diagnostics.RedirectWarnings(_ => { })) return f();
    }

    [Fact]
    public void Config_reads_snake_case_and_rejects_unknown_keys()
    {
        var c = DatasetConfig.FromJson("{\"path\":\"a.jsonl\",\"format\":\"alpaca\",\"max_seq_length\":512,\"train_on_inputs\":true,\"eval_split\":0.1,\"on_error\":\"fail\"}");
        Assert.Equal(("a.jsonl", "alpaca", 512, true, 0.1, OnError.Fail), (c.Path, c.Format, c.MaxSeqLength, c.TrainOnInputs, c.EvalSplit, c.ParseOnError()));
        Assert.Throws<ConfigurationException>(() => DatasetConfig.FromJson("{\"pth\":\"a.jsonl\"}"));
    }

    [Fact]
    public void Build_counts_skipped_records_dropped_examples_and_tokens_and_splits_eval()
    {
        using var dir = Fixtures.NewTempDir();
        var path = dir.File("d.jsonl");
        var lines = Enumerable.Range(0, 10).Select(i => $"{{\"instruction\":\"Count to {i}.\",\"input\":\"\",\"output\":\"{i}\"}}").ToList();
        lines.Add("{oops");
        lines.Add("{\"instruction\":\"no output here\",\"output\":3}");
        lines.Add($"{{\"instruction\":\"{string.Concat(Enumerable.Repeat("very long ", 100))}\",\"output\":\"x\"}}");
        File.WriteAllLines(path, lines);
        var config = new DatasetConfig { Path = path, MaxSeqLength = 128, EvalSplit = 0.2, Seed = 1 };
        var result = Quiet(() => DatasetBuilder.Build(config, Tok()));
        var s = result.TrainStats;
        Assert.Equal(12, s.RecordsRead);
        Assert.Equal(2, s.RecordsSkipped);
        Assert.Equal(1, s.SkipReasons["invalid JSON"]);
        Assert.Equal(1, s.SkipReasons["wrong type"]);
        Assert.Equal(1, s.DroppedAfterTruncation);
        Assert.Equal(10, s.Examples);
        Assert.Equal((8, 2), (result.Train.Count, result.Eval.Count));
        Assert.Equal(result.Train.Concat(result.Eval).Sum(e => e.Length), s.Tokens);
        Assert.Equal(result.Train.Concat(result.Eval).Sum(e => e.TrainableTokens), s.TrainableTokens);
        Assert.True(s.TrainableTokens < s.Tokens / 4);
        // Same seed, same split.
        var again = Quiet(() => DatasetBuilder.Build(config, Tok()));
        Assert.Equal(result.Eval.Select(e => e.InputIds), again.Eval.Select(e => e.InputIds));
    }

    [Fact]
    public void Empty_dataset_after_filtering_names_the_file()
    {
        using var dir = Fixtures.NewTempDir();
        var path = dir.File("bad.jsonl");
        File.WriteAllText(path, "{oops\n\n[1]\n");
        var e = Assert.Throws<ConfigurationException>(() => Quiet(() => DatasetBuilder.Build(new DatasetConfig { Path = path }, Tok())));
        Assert.Contains(path, e.Message);
        Assert.Contains("no usable examples", e.Message);
    }

    [Fact]
    public void Text_files_train_every_token_and_chat_without_a_template_asks_for_one()
    {
        using var dir = Fixtures.NewTempDir();
        var txt = dir.File("d.txt");
        File.WriteAllText(txt, "Once upon a time.\n\nThe end.\n");
        var r = DatasetBuilder.Build(new DatasetConfig { Path = txt, TextSplit = "paragraph" }, Tok());
        Assert.Equal(2, r.Train.Count);
        Assert.All(r.Train, e => Assert.Equal(e.InputIds.Skip(1), e.Labels.Skip(1)));

        var chat = dir.File("c.jsonl");
        File.WriteAllText(chat, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"yo\"}]}\n");
        var e = Assert.Throws<ConfigurationException>(() => DatasetBuilder.Build(new DatasetConfig { Path = chat }, Tok()));
        Assert.Contains("chat_template", e.Message);
        var ok = DatasetBuilder.Build(new DatasetConfig { Path = chat, ChatTemplate = "chatml" }, Tok());
        Assert.Single(ok.Train);
    }
}
