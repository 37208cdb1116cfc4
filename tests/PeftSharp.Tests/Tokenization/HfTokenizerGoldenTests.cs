using PeftSharp.Tests.Support;
using PeftSharp.Tokenization;
using PeftSharp.Tokenization.HuggingFace;

namespace PeftSharp.Tests.Tokenization;

public class HfTokenizerGoldenTests
{
    public static TheoryData<string, int> Cases => GoldenCases.Rows("sp_bpe_hf", "bytelevel_qwen2", "bytelevel_llama3");

    private static ITextTokenizer Load(string folder) => TokenizerLoader.FromFolder(Fixtures.Golden("tokenizers", folder));

    [Theory]
    [MemberData(nameof(Cases))]
    public void Encodes_and_decodes_like_the_tokenizers_library(string folder, int index)
    {
        var c = GoldenCases.Load(folder)[index];
        var tok = Load(folder);
        Assert.Equal(c.Ids, tok.Encode(c.Text, addSpecialTokens: false));
        Assert.Equal(c.IdsWithSpecial, tok.Encode(c.Text, addSpecialTokens: true));
        Assert.Equal(c.Decoded, tok.Decode(c.IdsWithSpecial));
    }

    [Fact]
    public void Special_tokens_in_text_are_matched_before_bpe()
    {
        var tok = Load("bytelevel_qwen2");
        var ids = tok.Encode("<|im_start|>user\nHi<|im_end|>", addSpecialTokens: false);
        Assert.Equal(1, ids[0]);
        Assert.Equal(2, ids[^1]);
        Assert.Equal(tok.Encode("user\nHi", false), ids.Skip(1).Take(ids.Count - 2));
        Assert.Equal("<|im_start|>user\nHi<|im_end|>", tok.Decode(ids, skipSpecialTokens: false));
        Assert.Equal("user\nHi", tok.Decode(ids));
    }

    [Fact]
    public void Special_ids_come_from_the_config()
    {
        var llama3 = Load("bytelevel_llama3");
        Assert.Equal(0, llama3.BosId);
        Assert.Equal(1, llama3.EosId);
        var qwen = Load("bytelevel_qwen2");
        Assert.Null(qwen.BosId);
        Assert.Equal(0, qwen.EosId);
        Assert.Equal(0, qwen.PadId);
        var sp = Load("sp_bpe_hf");
        Assert.Equal(1, sp.BosId);
        Assert.Equal(2, sp.EosId);
        Assert.Equal("<0x0A>", sp.IdToToken(sp.TokenToId("<0x0A>")!.Value));
    }
}
