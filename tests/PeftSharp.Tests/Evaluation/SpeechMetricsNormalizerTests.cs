using PeftSharp.Evaluation;

namespace PeftSharp.Tests.Evaluation;

public class SpeechMetricsNormalizerTests
{
    static readonly WhisperTextNormalizer English = new();

    [Theory]
    [InlineData("Hello, World!", "hello world")]
    [InlineData("[MUSIC] it's (inaudible) ok", "it is ok")]
    [InlineData("  <unk> Well... I WON'T   go -- they're late  ", "well i will not go they are late")]
    [InlineData("Um, we'd like the café's crème brûlée.", "we would like the cafe is creme brulee")]
    [InlineData("I can't; you shouldn't: \u201Cquotes\u201D \u2014 dashes", "i can not you should not quotes dashes")]
    [InlineData("It\u2019s 50% off, $3", "it is 50 off 3")]
    [InlineData("gonna wanna hmm uh", "going to want to")]
    public void English_mode_examples(string input, string expected) => Assert.Equal(expected, English.Normalize(input));

    [Theory]
    [InlineData("[MUSIC] it's (inaudible) ok", "it s ok")] // Whisper's BasicTextNormalizer keeps no apostrophes and expands nothing
    [InlineData("Café, crème!", "café crème")]              // diacritics kept: they matter outside English
    [InlineData("我爱北京，天安门。", "我爱北京 天安门")]       // full-width punctuation is punctuation
    [InlineData("Ça va? Oui (bien sûr).", "ça va oui")]
    public void Basic_mode_examples(string input, string expected) => Assert.Equal(expected, WhisperTextNormalizer.Basic.Normalize(input));

    [Fact]
    public void Normalizing_twice_changes_nothing()
    {
        const string s = "[noise] Mr. O'Neil's band — can't stop!";
        var once = English.Normalize(s);
        Assert.Equal(once, English.Normalize(once));
    }
}
