using PeftSharp.Tests.Support;
using PeftSharp.Tokenization;
using PeftSharp.Tokenization.Tiktoken;

namespace PeftSharp.Tests.Tokenization;

public class OtherFormatsGoldenTests
{
    public static TheoryData<string, int> SentencePieceCases => GoldenCases.Rows("sp_bpe");
    public static TheoryData<string, int> TiktokenCases => GoldenCases.Rows("tiktoken_gpt2");

    [Theory]
    [MemberData(nameof(SentencePieceCases))]
    public void Sentencepiece_model_encodes_like_sentencepiece(string folder, int index)
    {
        var c = GoldenCases.Load(folder)[index];
        var tok = TokenizerLoader.FromFolder(Fixtures.Golden("tokenizers", folder));
        Assert.Equal(c.Ids, tok.Encode(c.Text, addSpecialTokens: false));
        Assert.Equal(c.IdsWithSpecial, tok.Encode(c.Text, addSpecialTokens: true));
        Assert.Equal(c.Decoded, tok.Decode(c.IdsWithSpecial));
    }

    [Theory]
    [MemberData(nameof(TiktokenCases))]
    public void Tiktoken_file_encodes_like_tiktoken(string folder, int index)
    {
        var c = GoldenCases.Load(folder)[index];
        string file = Fixtures.Require("whisper", "gpt2.tiktoken");
        var tok = Tiktoken(file);
        Assert.Equal(c.Ids, tok.Encode(c.Text, addSpecialTokens: false));
        Assert.Equal(c.IdsWithSpecial, tok.Encode(c.Text, addSpecialTokens: true));
        Assert.Equal(c.Decoded, tok.Decode(c.IdsWithSpecial));
    }

    private static TiktokenTokenizer? _gpt2;
    private static TiktokenTokenizer Tiktoken(string file) =>
        _gpt2 ??= new TiktokenTokenizer(file, TiktokenTokenizer.Gpt2Pattern, new Dictionary<string, int> { ["<|endoftext|>"] = 50256 });

    [Fact]
    public void Tiktoken_matches_special_tokens_in_text()
    {
        var tok = Tiktoken(Fixtures.Require("whisper", "gpt2.tiktoken"));
        Assert.Equal(50256, tok.EosId);
        Assert.Equal(50257, tok.VocabSize);
        var ids = tok.Encode("Hello world<|endoftext|>");
        Assert.Equal([15496, 995, 50256], ids);
        Assert.Equal("Hello world", tok.Decode(ids));
        Assert.Equal("Hello world<|endoftext|>", tok.Decode(ids, skipSpecialTokens: false));
    }

    [Fact]
    public void Sentencepiece_model_reports_its_special_ids()
    {
        var tok = TokenizerLoader.FromFile(Fixtures.Golden("tokenizers", "sp_bpe", "tokenizer.model"));
        Assert.Equal(1, tok.BosId);
        Assert.Equal(2, tok.EosId);
        Assert.Equal(800, tok.VocabSize);
        Assert.Equal("<0x0A>", tok.IdToToken(13));
    }
}
