using PeftSharp.Tests.Support;
using PeftSharp.Tokenization.Whisper;

namespace PeftSharp.Tests.Tokenization;

public class WhisperTokenizerTests
{
    private static WhisperTokenizer? _multilingual;
    private static WhisperTokenizer? _englishOnly;
    private static WhisperTokenizer Multilingual() => _multilingual ??= new WhisperTokenizer(Fixtures.Require("whisper", "multilingual.tiktoken"));
    private static WhisperTokenizer EnglishOnly() => _englishOnly ??= new WhisperTokenizer(Fixtures.Require("whisper", "gpt2.tiktoken"));

    // file, config vocab_size, then the published ids: eot, sot, first language, translate, transcribe, startoflm,
    // startofprev, nospeech, notimestamps, <|0.00|> (whisper-tiny; whisper-large-v3; whisper-tiny.en).
    [Theory]
    [InlineData("multilingual.tiktoken", 51865, 50257, 50258, 50259, 50358, 50359, 50360, 50361, 50362, 50363, 50364)]
    [InlineData("multilingual.tiktoken", 51866, 50257, 50258, 50259, 50359, 50360, 50361, 50362, 50363, 50364, 50365)]
    [InlineData("gpt2.tiktoken", 51864, 50256, 50257, 50258, 50357, 50358, 50359, 50360, 50361, 50362, 50363)]
    public void Special_ids_equal_openai_whisper(string file, int vocabSize, params int[] expected)
    {
        var tok = WhisperTokenizer.FromVocabSize(Fixtures.Require("whisper", file), vocabSize);
        Assert.Equal(vocabSize, tok.VocabSize);
        int[] actual =
        [
            tok.EndOfText, tok.StartOfTranscript, tok.LanguageToken("en"), tok.Translate, tok.Transcribe, tok.StartOfLm,
            tok.StartOfPrev, tok.NoSpeech, tok.NoTimestamps, tok.TimestampBegin,
        ];
        Assert.Equal(expected, actual);
        Assert.Equal(tok.EndOfText, tok.TokenToId("<|endoftext|>"));
        Assert.Equal("<|30.00|>", tok.IdToToken(vocabSize - 1));
        Assert.Equal(tok.EndOfText, tok.EosId);
        Assert.Equal(tok.EndOfText, tok.PadId);
        Assert.Equal(tok.StartOfTranscript, tok.BosId);
    }

    [Fact]
    public void Multilingual_has_99_languages_in_whispers_order()
    {
        var tok = Multilingual();
        Assert.True(tok.IsMultilingual);
        Assert.Equal(99, tok.LanguageCodes.Count);
        Assert.Equal(50260, tok.LanguageToken("zh"));
        Assert.Equal(50259 + 98, tok.LanguageToken("su"));
    }

    [Fact]
    public void Large_v3_has_cantonese()
    {
        var tok = WhisperTokenizer.FromVocabSize(Fixtures.Require("whisper", "multilingual.tiktoken"), 51866);
        Assert.Equal(100, tok.NumLanguages);
        Assert.Equal(50358, tok.LanguageToken("yue"));
        Assert.Equal(50358, tok.LanguageToken("Cantonese"));
        Assert.Equal([50258, 50358, 50360, 50364], tok.SotSequence("yue"));
    }

    [Fact]
    public void English_only_prefix_has_no_language_or_task()
    {
        var tok = EnglishOnly();
        Assert.False(tok.IsMultilingual);
        Assert.Equal(99, tok.NumLanguages); // get_encoding("gpt2") numbers the language tokens too
        Assert.Null(tok.Language);
        Assert.Equal([50257, 50362], tok.SotSequence(language: null));
        Assert.Equal([50257], tok.SotSequence("en", timestamps: true));
        Assert.Throws<ArgumentException>(() => tok.SotSequence("fr"));
        Assert.Throws<ArgumentException>(() => tok.SotSequence(null, WhisperTask.Translate));
    }

    [Fact]
    public void Sot_sequences_are_the_forced_decoder_prefixes()
    {
        var tok = Multilingual();
        Assert.Equal([50258, 50259, 50359, 50363], tok.SotSequence("en", WhisperTask.Transcribe, timestamps: false));
        Assert.Equal([50258, 50259, 50359], tok.SotSequence("en", WhisperTask.Transcribe, timestamps: true));
        Assert.Equal([50258, 50265, 50358, 50363], tok.SotSequence("fr", WhisperTask.Translate));
        Assert.Equal(tok.SotSequence("de"), tok.SotSequence("German"));
    }

    [Fact]
    public void Multilingual_encoding_round_trips_with_whispers_ids()
    {
        var tok = Multilingual();
        const string text = " And so my fellow Americans";
        var ids = tok.Encode(text, addSpecialTokens: false);
        Assert.Equal([400, 370, 452, 7177, 6280], ids);
        Assert.Equal(text, tok.Decode(ids));
        Assert.Equal([50258, 50259, 50359, 50363, .. ids, 50257], tok.Encode(text));
        Assert.Equal(text, tok.Decode(tok.Encode(text)));
        const string jfk = " And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.";
        Assert.Equal(jfk, tok.Decode(tok.Encode(jfk, addSpecialTokens: false)));
    }

    [Fact]
    public void English_only_encoding_equals_gpt2_ranks()
    {
        var tok = EnglishOnly();
        Assert.Equal([843, 523, 616, 5891, 3399], tok.Encode(" And so my fellow Americans", addSpecialTokens: false));
        foreach (var c in GoldenCases.Load("tiktoken_gpt2"))
        {
            Assert.Equal(c.Ids, tok.Encode(c.Text, addSpecialTokens: false));
            Assert.Equal(c.Text, tok.Decode(c.Ids));
        }
    }

    [Fact]
    public void Special_text_is_ordinary_unless_asked()
    {
        var tok = Multilingual();
        var ordinary = tok.Encode("<|en|>hi", addSpecialTokens: false);
        Assert.DoesNotContain(50259, ordinary);
        Assert.Equal("<|en|>hi", tok.Decode(ordinary));
        var special = tok.EncodeWithSpecialTokens("<|en|><|0.00|> hi<|1.08|>");
        Assert.Equal([50259, 50364, .. tok.Encode(" hi", false), 50364 + 54], special);
    }

    [Fact]
    public void Decode_skips_specials_or_renders_timestamps()
    {
        var tok = Multilingual();
        int[] ids = [50258, 50259, 50359, 50364, .. tok.Encode(" Hello", false), 50364 + 54, 50257];
        Assert.Equal(" Hello", tok.Decode(ids));
        Assert.Equal("<|startoftranscript|><|en|><|transcribe|><|0.00|> Hello<|1.08|><|endoftext|>", tok.Decode(ids, skipSpecialTokens: false));
    }

    [Fact]
    public void Timestamps_map_to_seconds_and_back()
    {
        var tok = Multilingual();
        Assert.False(tok.IsTimestamp(50363));
        Assert.True(tok.IsTimestamp(50364));
        Assert.True(tok.IsTimestamp(51864));
        Assert.False(tok.IsTimestamp(51865));
        Assert.Equal(0.0, tok.Timestamp(50364));
        Assert.Equal(1.08, tok.Timestamp(50364 + 54), 10);
        Assert.Equal(30.0, tok.Timestamp(51864), 10);
        Assert.Equal(50364 + 54, tok.TimestampToken(1.08));
        Assert.Equal(51864, tok.TimestampToken(30));
        Assert.Throws<ArgumentOutOfRangeException>(() => tok.Timestamp(50363));
        Assert.Throws<ArgumentOutOfRangeException>(() => tok.TimestampToken(30.5));
    }

    [Fact]
    public void Bad_language_code_lists_the_valid_codes()
    {
        var tok = Multilingual();
        var e = Assert.Throws<ArgumentException>(() => tok.SotSequence("xx"));
        Assert.Contains("'xx'", e.Message);
        Assert.Contains("en, zh, de, es", e.Message);
        Assert.Contains("su", e.Message);
        var yue = Assert.Throws<ArgumentException>(() => tok.LanguageToken("yue"));
        Assert.Contains("100", yue.Message);
        Assert.Equal(tok.LanguageToken("my"), tok.LanguageToken("burmese"));
    }

    [Fact]
    public void Suppressed_tokens_equal_whisper_tiny_generation_config()
    {
        var tok = Multilingual();
        Assert.Equal([220, 50257], tok.BlankSuppressTokens);
        int[] suppress =
        [
            1, 2, 7, 8, 9, 10, 14, 25, 26, 27, 28, 29, 31, 58, 59, 60, 61, 62, 63, 90, 91, 92, 93, 359, 503, 522, 542,
            873, 893, 902, 918, 922, 931, 1350, 1853, 1982, 2460, 2627, 3246, 3253, 3268, 3536, 3846, 3961, 4183, 4667,
            6585, 6647, 7273, 9061, 9383, 10428, 10929, 11938, 12033, 12331, 12562, 13793, 14157, 14635, 15265, 15618,
            16553, 16604, 18362, 18956, 20075, 21675, 22520, 26130, 26161, 26435, 28279, 29464, 31650, 32302, 32470,
            36865, 42863, 47425, 49870, 50254, 50258, 50358, 50359, 50360, 50361, 50362,
        ];
        Assert.Equal(suppress, tok.DefaultSuppressTokens);
        Assert.Equal(suppress[..^6], tok.NonSpeechTokens);
    }

    [Fact]
    public void Vocab_size_that_fits_no_layout_is_a_clear_error()
    {
        var e = Assert.Throws<PeftSharp.ConfigurationException>(() =>
            WhisperTokenizer.FromVocabSize(Fixtures.Require("whisper", "multilingual.tiktoken"), 32000));
        Assert.Contains("vocab_size 32000", e.Message);
    }
}
