using PeftSharp.Tests.Support;
using System.Text;
using PeftSharp.Tokenization;

namespace PeftSharp.Tests.Tokenization;

public class TokenStreamDecoderTests
{
    public static TheoryData<string> Folders => ["sp_bpe", "sp_bpe_hf", "bytelevel_qwen2", "bytelevel_llama3"];

    private static string Stream(ITextTokenizer tok, IEnumerable<int> ids)
    {
        var decoder = new TokenStreamDecoder(tok);
        var sb = new StringBuilder();
        foreach (int id in ids)
        {
            string piece = decoder.Push(id);
            Assert.DoesNotContain('\uFFFD', piece); // never half a character
            sb.Append(piece);
        }
        return sb.Append(decoder.Flush()).ToString();
    }

    [Theory]
    [MemberData(nameof(Folders))]
    public void Streamed_text_equals_the_full_decode(string folder)
    {
        var tok = TokenizerLoader.FromFolder(Fixtures.Golden("tokenizers", folder));
        foreach (var c in GoldenCases.Load(folder))
            Assert.Equal(tok.Decode(c.IdsWithSpecial), Stream(tok, c.IdsWithSpecial));
    }

    [Fact]
    public void Streams_llama2c_bytes_and_the_space_after_bos()
    {
        var tok = TokenizerLoader.FromFile(Fixtures.Require("models", "stories260K", "tok512.bin"));
        foreach (var text in new[] { "Once upon a time", "héllo 🤗 wörld", "a\nb" })
            Assert.Equal(text, Stream(tok, tok.Encode(text)));
    }

    [Fact]
    public void Holds_back_an_incomplete_character_until_its_last_byte()
    {
        var tok = TokenizerLoader.FromFolder(Fixtures.Golden("tokenizers", "sp_bpe"));
        var ids = tok.Encode("🤗", addSpecialTokens: false); // ▁ then four byte-fallback pieces
        var decoder = new TokenStreamDecoder(tok);
        var pieces = ids.Select(decoder.Push).ToList();
        Assert.All(pieces.Take(pieces.Count - 1), p => Assert.DoesNotContain('\uFFFD', p));
        Assert.Equal("🤗", string.Concat(pieces));
    }
}
