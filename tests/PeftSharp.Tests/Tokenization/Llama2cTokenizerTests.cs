using PeftSharp.Tests.Support;
using PeftSharp.Tokenization;
using PeftSharp.Tokenization.Llama2c;

namespace PeftSharp.Tests.Tokenization;

public class Llama2cTokenizerTests
{
    private static Llama2cTokenizer Load() => new(Fixtures.Require("models", "stories260K", "tok512.bin"), vocabSize: 512);

    [Fact]
    public void Reads_the_stories260K_vocabulary()
    {
        var tok = Load();
        Assert.Equal(512, tok.VocabSize);
        Assert.Equal(1, tok.BosId);
        Assert.Equal(2, tok.EosId);
        Assert.Equal("<0x0A>", tok.IdToToken(13));
    }

    [Theory]
    [InlineData("Once upon a time")]
    [InlineData("Once upon a time, there was a little girl named Lily. She loved to play outside in the park.")]
    [InlineData("Tom said: \"Hello!\"\nThe end.")]
    [InlineData("héllo wörld 日本 🤗")]
    [InlineData("  two  spaces ")]
    [InlineData("")]
    public void Decode_of_encode_round_trips(string text)
    {
        var tok = Load();
        var ids = tok.Encode(text);
        Assert.Equal(1, ids[0]);
        Assert.Equal(text, tok.Decode(ids));
    }

    [Fact]
    public void Encodes_by_highest_score_merges_as_run_c()
    {
        var tok = Load();
        var ids = tok.Encode("Once upon a time", addSpecialTokens: false);
        // run.c: the pieces concatenate to the dummy-prefixed text, and no adjacent pair is itself a piece.
        Assert.Equal(" Once upon a time", string.Concat(ids.Select(tok.IdToToken)));
        for (int i = 0; i + 1 < ids.Count; i++)
            Assert.Null(tok.TokenToId(tok.IdToToken(ids[i]) + tok.IdToToken(ids[i + 1])));
        Assert.True(ids.Count < "Once upon a time".Length / 2);
    }

    [Fact]
    public void Unknown_codepoints_fall_back_to_bytes()
    {
        var tok = Load();
        var ids = tok.Encode("🤗", addSpecialTokens: false);
        Assert.Contains(0xF0 + 3, ids);
        Assert.Equal(" 🤗", tok.Decode(ids));
    }

    [Fact]
    public void Loader_picks_tokenizer_bin_from_a_file_path()
    {
        var tok = TokenizerLoader.FromFile(Fixtures.Require("models", "stories260K", "tok512.bin"));
        Assert.IsType<Llama2cTokenizer>(tok);
    }
}
