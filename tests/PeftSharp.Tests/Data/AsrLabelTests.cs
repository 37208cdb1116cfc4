using PeftSharp.Data.Speech;
using PeftSharp.Tests.Support;
using PeftSharp.Tokenization.Whisper;

namespace PeftSharp.Tests.Data;

public class AsrLabelTests
{
    // Whisper's published ids (multilingual vocabulary, 99 languages).
    const int Eot = 50257, Sot = 50258, En = 50259, De = 50261, Transcribe = 50359, NoTimestamps = 50363;

    static WhisperTokenizer Multilingual() => new(Fixtures.Require("whisper", "multilingual.tiktoken"));

    [Fact]
    public void Labels_follow_hugging_face_recipe_with_whisper_published_ids()
    {
        var tok = Multilingual();
        var builder = AsrLabelBuilder.ForWhisper(tok, "en");

        var t = builder.Build("  And so, my fellow Americans.  ");

        Assert.Equal([Sot, En, Transcribe, NoTimestamps], t.DecoderInputIds[..4]);
        Assert.Equal([En, Transcribe, NoTimestamps], t.Labels[..3]);
        Assert.Equal(Eot, t.Labels[^1]);
        Assert.DoesNotContain(Eot, t.DecoderInputIds);
        Assert.Equal(t.DecoderInputIds[1..], t.Labels[..^1]);            // labels = decoder inputs shifted left
        var textIds = t.DecoderInputIds[4..];
        Assert.Equal(" And so, my fellow Americans.", tok.Decode(textIds)); // trimmed, with Whisper's leading space
        Assert.Equal(tok.Encode(" And so, my fellow Americans.", addSpecialTokens: false), textIds);
        Assert.Equal(0, builder.TruncatedCount);
    }

    [Fact]
    public void An_example_language_replaces_the_prefix_language_by_code_or_name()
    {
        var builder = AsrLabelBuilder.ForWhisper(Multilingual(), "en");

        Assert.Equal([Sot, De, Transcribe, NoTimestamps], builder.Build("Guten Tag", "de").DecoderInputIds[..4]);
        Assert.Equal(De, builder.Build("Guten Tag", "German").Labels[0]);
        Assert.Equal(En, builder.Build("Good day").Labels[0]);          // no language: the prefix's
        var e = Assert.Throws<ArgumentException>(() => builder.Build("x", "klingon"));
        Assert.Contains("'klingon' is not a Whisper language", e.Message);
    }

    [Fact]
    public void English_only_tokenizer_has_no_language_token_and_ignores_example_languages()
    {
        var tok = WhisperTokenizer.FromVocabSize(Fixtures.Require("whisper", "gpt2.tiktoken"), 51864); // tiny.en .. medium.en
        Assert.False(tok.IsMultilingual);
        var builder = AsrLabelBuilder.ForWhisper(tok, language: "en");

        var t = builder.Build("hello", "en");

        Assert.Equal([tok.StartOfTranscript, tok.NoTimestamps], t.DecoderInputIds[..2]);
        Assert.Equal(tok.NoTimestamps, t.Labels[0]);
        Assert.Equal(tok.EndOfText, t.Labels[^1]);
        Assert.Equal(" hello", tok.Decode(t.DecoderInputIds[2..]));
    }

    // Decoupled from any tokenizer: one id per character, a made-up prefix.
    static AsrLabelBuilder CharBuilder(int maxTargetLength, Func<string, int>? language = null) =>
        new([100, 101, 102], endOfText: 1, text => text.Select(c => (int)c).ToArray(), maxTargetLength, language);

    [Fact]
    public void Truncation_keeps_the_end_of_text_and_warns_once_with_the_count()
    {
        var builder = CharBuilder(maxTargetLength: 8);

        var cut = builder.Build("abcdefghij");           // " abcdefghij": 11 ids, room for 5
        var fits = builder.Build("ab");                  // " ab": 3 ids
        builder.Build("klmnopqrst");

        Assert.Equal([100, 101, 102, ' ', 'a', 'b', 'c', 'd'], cut.DecoderInputIds);
        Assert.Equal([101, 102, ' ', 'a', 'b', 'c', 'd', 1], cut.Labels);
        Assert.Equal([101, 102, ' ', 'a', 'b', 1], fits.Labels);
        Assert.Equal(2, builder.TruncatedCount);
        var warnings = new List<string>();
        using (Diagnostics.RedirectWarnings(warnings.Add)) builder.WarnIfTruncated("train.jsonl");
        Assert.Contains("train.jsonl: 2 transcript(s) truncated to 8 decoder tokens", Assert.Single(warnings));
    }

    [Fact]
    public void No_warning_when_nothing_was_truncated()
    {
        var builder = CharBuilder(maxTargetLength: 448);
        builder.Build(new string('x', 400));
        var warnings = new List<string>();
        using (Diagnostics.RedirectWarnings(warnings.Add)) builder.WarnIfTruncated("train.jsonl");
        Assert.Empty(warnings);
        Assert.Equal(AsrLabelBuilder.WhisperMaxTargetLength, builder.MaxTargetLength);
    }

    [Fact]
    public void Language_lookup_replaces_the_token_after_sot()
    {
        var builder = CharBuilder(448, language: code => code == "fr" ? 777 : throw new ArgumentException($"unknown {code}"));
        Assert.Equal([100, 777, 102], builder.Build("x", "fr").DecoderInputIds[..3]);
        Assert.Equal([100, 101, 102], builder.Build("x").DecoderInputIds[..3]);
    }

    [Fact]
    public void Invalid_construction_is_rejected_with_the_reason()
    {
        static IReadOnlyList<int> Encode(string s) => [1];
        Assert.Contains("must exceed the 3-token prefix", Assert.Throws<ArgumentOutOfRangeException>(() => CharBuilder(3)).Message);
        Assert.Contains("prefix is empty", Assert.Throws<ArgumentException>(() => new AsrLabelBuilder([], 1, Encode)).Message);
        Assert.Contains("no language token", Assert.Throws<ArgumentException>(() => new AsrLabelBuilder([100], 1, Encode, 448, _ => 5)).Message);
    }
}
