using PeftSharp.Data;
using PeftSharp.Tests.Support;
using PeftSharp.Tokenization;
using PeftSharp.Tokenization.Llama2c;
using Record = PeftSharp.Data.Record;

namespace PeftSharp.Tests.Data;

/// <summary>Completion-only labels checked token by token on real Stanford Alpaca seed tasks.</summary>
public class MaskTests
{
    static List<Record> SeedTasks() =>
        [.. JsonlReader.Read(Fixtures.Require("data", "alpaca_seed_tasks.jsonl"), new RecordIssues(OnError.Fail))];

    [Fact]
    public void Alpaca_example_trains_exactly_the_response_and_eos()
    {
        var tok = new Llama2cTokenizer(Fixtures.Require("models", "stories260K", "tok512.bin"), 512);
        var record = SeedTasks()[0];
        string instruction = record.Fields["instruction"].GetString()!;
        var instance = record.Fields["instances"][0];
        string output = instance.GetProperty("output").GetString()!;

        var segments = Assert.Single(new RecordFormatter(DataFormat.Alpaca, new FieldNames(), null).Format(record));
        var ex = new SftTokenizer(tok, new SftTokenizerOptions { MaxSeqLength = 4096 }).Tokenize(segments)!;

        var promptIds = tok.Encode(AlpacaTemplate.Prompt(instruction, instance.GetProperty("input").GetString()), addSpecialTokens: false);
        var responseIds = tok.Encode(output, addSpecialTokens: false);
        Assert.Equal(1 + promptIds.Count + responseIds.Count + 1, ex.Length);
        Assert.Equal(tok.BosId, ex.InputIds[0]);
        // Every prompt token (BOS included) is out of the loss.
        for (int i = 0; i <= promptIds.Count; i++) Assert.Equal(-100, ex.Labels[i]);
        // Every response token and the final EOS are in it, with label = input id.
        var trained = ex.Labels.Skip(1 + promptIds.Count).ToArray();
        Assert.Equal([.. responseIds, tok.EosId!.Value], trained);
        Assert.Equal(ex.InputIds.Skip(1 + promptIds.Count), trained);
        // llama2.c's encoder puts a dummy-prefix space before each separately tokenized run.
        Assert.Equal(" " + output, tok.Decode(trained));
        Assert.Equal(tok.EosId, ex.Labels[^1]);
    }

    [Fact]
    public void Chat_example_trains_exactly_the_assistant_content_end_marker_and_eos()
    {
        var tok = TokenizerLoader.FromFolder(Fixtures.Golden("tokenizers", "bytelevel_qwen2"));
        var record = SeedTasks().First(r => r.Fields["instances"][0].GetProperty("input").GetString() is { Length: > 0 });
        string instruction = record.Fields["instruction"].GetString()!;
        var instance = record.Fields["instances"][0];
        string input = instance.GetProperty("input").GetString()!, output = instance.GetProperty("output").GetString()!;

        var segments = Assert.Single(new RecordFormatter(DataFormat.Alpaca, new FieldNames(), ChatTemplate.ChatMl).Format(record));
        var ex = new SftTokenizer(tok, new SftTokenizerOptions { MaxSeqLength = 4096 }).Tokenize(segments)!;

        string prompt = $"<|im_start|>user\n{instruction}\n\n{input}<|im_end|>\n<|im_start|>assistant\n";
        var promptIds = tok.Encode(prompt, addSpecialTokens: false);
        Assert.Equal(promptIds, ex.InputIds.Take(promptIds.Count));
        Assert.All(ex.Labels.Take(promptIds.Count), l => Assert.Equal(-100, l));

        // Trainable positions: the response, <|im_end|> (one added token) and the appended EOS; the "\n" after <|im_end|> is prompt.
        int imEnd = tok.TokenToId("<|im_end|>")!.Value;
        var trainedPositions = Enumerable.Range(0, ex.Length).Where(i => ex.Labels[i] != -100).ToArray();
        var trained = trainedPositions.Select(i => ex.Labels[i]).ToArray();
        Assert.Equal([.. tok.Encode(output, false), imEnd, tok.EosId!.Value], trained);
        Assert.Equal(output + "<|im_end|>" + "<|endoftext|>", tok.Decode(trained, skipSpecialTokens: false));
        Assert.Equal(ex.Length - 2, Array.IndexOf(ex.InputIds, imEnd, promptIds.Count) + 1);
        Assert.Equal(-100, ex.Labels[^2]);
        Assert.Equal("\n", tok.Decode([ex.InputIds[^2]]));
    }

    [Fact]
    public void Truncation_keeps_the_start_and_drops_examples_with_nothing_trainable()
    {
        var tok = new Llama2cTokenizer(Fixtures.Require("models", "stories260K", "tok512.bin"), 512);
        var sft = new SftTokenizer(tok, new SftTokenizerOptions { MaxSeqLength = 8 });
        Assert.Null(sft.Tokenize([new Segment("a long prompt that does not fit in eight tokens at all", false), new Segment("answer", true)]));
        var kept = sft.Tokenize([new Segment("hi", false), new Segment("a long answer that will be cut short here", true)])!;
        Assert.Equal(8, kept.Length);
        Assert.Equal(tok.BosId, kept.InputIds[0]);
        Assert.NotEqual(tok.EosId, kept.InputIds[^1]);
    }

    [Fact]
    public void Text_data_trains_every_token_but_bos_is_never_doubled()
    {
        var tok = new Llama2cTokenizer(Fixtures.Require("models", "stories260K", "tok512.bin"), 512);
        var ex = new SftTokenizer(tok, new SftTokenizerOptions { TrainOnInputs = true }).Tokenize([new Segment("Once upon a time", true)])!;
        Assert.Equal([.. tok.Encode("Once upon a time"), tok.EosId!.Value], ex.InputIds);
        Assert.Equal(ex.InputIds, ex.Labels);
    }
}
