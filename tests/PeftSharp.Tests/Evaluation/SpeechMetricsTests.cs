using PeftSharp.Evaluation;

namespace PeftSharp.Tests.Evaluation;

public class SpeechMetricsTests
{
    [Fact]
    public void WER_counts_one_substitution_one_deletion_one_insertion()
    {
        // ref: the cat sat on the mat      (6 words)
        // hyp: the dog sat    the mat down
        //          S       D          I    -> 3 edits / 6 = 0.5, hits: the, sat, the, mat
        var c = WordErrorRate.Counts("the cat sat on the mat", "the dog sat the mat down");
        Assert.Equal(new EditCounts(Hits: 4, Substitutions: 1, Deletions: 1, Insertions: 1), c);
        Assert.Equal(6, c.ReferenceLength);
        Assert.Equal(0.5, c.ErrorRate, 12);
        Assert.Equal(0.0, WordErrorRate.Compute("a  b\tc", " a b c "), 12); // whitespace runs are one separator
    }

    [Fact]
    public void Empty_reference_rates_are_the_insertion_count_and_empty_hypothesis_is_all_deletions()
    {
        Assert.Equal(0.0, WordErrorRate.Compute("", ""));
        Assert.Equal(new EditCounts(0, 0, 0, 2), WordErrorRate.Counts("", "hello there"));
        Assert.Equal(2.0, WordErrorRate.Compute("", "hello there")); // denominator max(N, 1): never NaN or infinity
        Assert.Equal(new EditCounts(0, 0, 3, 0), WordErrorRate.Counts("a b c", ""));
        Assert.Equal(1.0, WordErrorRate.Compute("a b c", ""));
        Assert.Equal(1.0, CharacterErrorRate.Compute("", "x"));
        // In a corpus an empty reference just adds its insertions to the numerator: (0 + 2) / 2 words.
        Assert.Equal(1.0, WordErrorRate.Compute(new[] { "a b", "" }, new[] { "a b", "c d" }), 12);
    }

    [Fact]
    public void Corpus_WER_is_total_edits_over_total_reference_words_not_the_mean_of_rates()
    {
        string[] refs = { "a b c d", "e" }, hyps = { "a b c d", "f" };
        // utterance rates 0/4 and 1/1: their mean is 0.5; the corpus rate is 1 edit / 5 words = 0.2 (jiwer's rule)
        double mean = refs.Zip(hyps, (r, h) => WordErrorRate.Compute(r, h)).Average();
        Assert.Equal(0.5, mean, 12);
        Assert.Equal(0.2, WordErrorRate.Compute(refs, hyps), 12);
        Assert.Equal(new EditCounts(4, 1, 0, 0), WordErrorRate.Counts(refs, hyps));
    }

    [Fact]
    public void CER_works_on_Chinese_and_Japanese_without_spaces()
    {
        // 我爱北京天安门: 7 characters, the hypothesis drops the last one -> 1/7
        Assert.Equal(new EditCounts(6, 0, 1, 0), CharacterErrorRate.Counts("我爱北京天安门", "我爱北京天安"));
        Assert.Equal(1.0 / 7, CharacterErrorRate.Compute("我爱北京天安门", "我爱北京天安"), 12);
        // 今日は良い天気です: 9 characters, 良 -> 悪 is one substitution -> 1/9
        Assert.Equal(1.0 / 9, CharacterErrorRate.Compute("今日は良い天気です", "今日は悪い天気です"), 12);
        // A segmented hypothesis: spaces are 3 insertions unless whitespace is ignored.
        Assert.Equal(new EditCounts(7, 0, 0, 3), CharacterErrorRate.Counts("我爱北京天安门", "我 爱 北京 天安门"));
        Assert.Equal(0.0, CharacterErrorRate.Compute("我爱北京天安门", "我 爱 北京 天安门", ignoreWhitespace: true));
        // Words are ignored by WER here: the whole unsegmented sentence is one "word".
        Assert.Equal(1.0, WordErrorRate.Compute("我爱北京天安门", "我爱北京天安"));
    }

    [Fact]
    public void CER_counts_characters_including_one_space_between_words()
    {
        // "abc de" (6 chars incl. the space) vs "abd de": one substitution
        Assert.Equal(new EditCounts(5, 1, 0, 0), CharacterErrorRate.Counts("abc de", "abd  de"));
        // A combining accent is part of its letter: e + U+0301 is one character.
        Assert.Equal(new EditCounts(4, 0, 0, 0), CharacterErrorRate.Counts("cafe\u0301", "cafe\u0301"));
    }

    [Fact]
    public void Normalizer_applies_before_alignment()
    {
        var n = new WhisperTextNormalizer();
        Assert.Equal(0.0, WordErrorRate.Compute("Hello, World!", "hello world", n.Normalize));
        Assert.Equal(0.0, WordErrorRate.Compute(new[] { "[MUSIC] It's OK." }, new[] { "it is ok" }, n.Normalize));
    }

    [Fact]
    public void Corpus_input_mismatch_is_a_clear_error()
    {
        var e = Assert.Throws<ConfigurationException>(() => WordErrorRate.Compute(new[] { "a" }, new[] { "a", "b" }));
        Assert.Contains("1 references but 2 hypotheses", e.Message);
        Assert.Throws<ConfigurationException>(() => CharacterErrorRate.Compute(Array.Empty<string>(), Array.Empty<string>()));
    }
}
