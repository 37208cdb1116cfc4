using PeftSharp.Generation.Whisper;
using PeftSharp.Models.Whisper;
using PeftSharp.Tests.Support;
using PeftSharp.Tokenization.Whisper;

namespace PeftSharp.Tests.Models;

/// <summary>WhisperGenerator on a tiny random model: batching, beam 1 = greedy, forced prefix, suppression, language detection.</summary>
public class WhisperDecodingTests
{
    static (WhisperForConditionalGeneration Model, WhisperGenerator Generator) Create(long seed)
    {
        var tokenizer = WhisperTokenizer.FromVocabSize(Fixtures.Require("whisper", "multilingual.tiktoken"), 51865);
        var model = TinyWhisper.Random(seed, ScalarType.Float64);
        return (model, new WhisperGenerator(model, WhisperSpecialTokens.From(tokenizer)));
    }

    static Tensor Row(Tensor features, int i) => features.narrow(0, i, 1);

    [Fact]
    public void Batch_decoding_equals_one_clip_at_a_time()
    {
        var (model, generator) = Create(21);
        using var _ = model;
        using var features = TinyWhisper.Features(3, seed: 22, ScalarType.Float64);
        var options = new WhisperDecodingOptions { Language = "en", MaxNewTokens = 12 };
        var batched = generator.Generate(features, options);
        Assert.Equal(3, batched.Count);
        for (int i = 0; i < 3; i++)
        {
            using var one = Row(features, i);
            var single = generator.Generate(one, options).Single();
            Assert.Equal(single.Tokens, batched[i].Tokens);
            Assert.Equal(single.Text, batched[i].Text);
            Assert.Equal(single.SumLogProb, batched[i].SumLogProb, 6);
        }
        Assert.NotEqual(batched[0].Tokens, batched[1].Tokens); // different clips, different outputs: the rows are really separate
    }

    [Fact]
    public void Beam_search_with_one_beam_equals_greedy_and_wider_beams_decode()
    {
        var (model, generator) = Create(23);
        using var _ = model;
        using var features = TinyWhisper.Features(2, seed: 24, ScalarType.Float64);
        var greedy = generator.Generate(features, new WhisperDecodingOptions { Language = "en", MaxNewTokens = 10 });
        var beam1 = generator.Generate(features, new WhisperDecodingOptions { Language = "en", MaxNewTokens = 10, BeamSize = 1 });
        Assert.Equal(greedy.Select(g => g.Tokens), beam1.Select(b => b.Tokens));
        Assert.Equal(greedy.Select(g => g.SumLogProb), beam1.Select(b => b.SumLogProb), new ToleranceComparer(1e-6));
        var beam3 = generator.Generate(features, new WhisperDecodingOptions { Language = "en", MaxNewTokens = 10, BeamSize = 3 });
        Assert.Equal(2, beam3.Count);
        Assert.All(beam3, b => Assert.InRange(b.Tokens.Count, 0, 10));
        var again = generator.Generate(features, new WhisperDecodingOptions { Language = "en", MaxNewTokens = 10, BeamSize = 3 });
        Assert.Equal(beam3.Select(b => b.Tokens), again.Select(b => b.Tokens));
    }

    [Fact]
    public void The_forced_prefix_is_used_and_suppressed_tokens_are_never_emitted()
    {
        var (model, generator) = Create(25);
        using var _ = model;
        using var features = TinyWhisper.Features(1, seed: 26, ScalarType.Float64);
        var t = generator.Tokens;
        var first = generator.Generate(features, new WhisperDecodingOptions { Language = "de", Task = WhisperTask.Translate, MaxNewTokens = 15 }).Single();
        Assert.Equal(new[] { t.StartOfTranscript, t.LanguageToken("de"), t.Translate, t.NoTimestamps }, first.Prefix);
        Assert.NotEmpty(first.Tokens);
        Assert.DoesNotContain(first.Tokens, id => t.DefaultSuppressTokens.Contains(id));

        // Suppress everything the first run emitted: none of it may come back, for greedy and beam search alike.
        var banned = t.DefaultSuppressTokens.Concat(first.Tokens).Distinct().ToList();
        foreach (int beams in new[] { 1, 3 })
        {
            var second = generator.Generate(features, new WhisperDecodingOptions { Language = "de", Task = WhisperTask.Translate, MaxNewTokens = 15, SuppressTokens = banned, BeamSize = beams }).Single();
            Assert.DoesNotContain(second.Tokens, id => banned.Contains(id));
        }

        // The first sampled token: begin-suppressed ids are not chosen there, yet may come later.
        var noFirst = generator.Generate(features, new WhisperDecodingOptions { Language = "de", Task = WhisperTask.Translate, MaxNewTokens = 15, BeginSuppressTokens = new[] { first.Tokens[0], t.EndOfText } }).Single();
        Assert.NotEqual(first.Tokens[0], noFirst.Tokens[0]);
    }

    [Fact]
    public void Language_is_detected_from_the_language_tokens_when_none_is_given()
    {
        var (model, generator) = Create(27);
        using var _ = model;
        using var features = TinyWhisper.Features(2, seed: 28, ScalarType.Float64);
        var result = generator.Generate(features, new WhisperDecodingOptions { MaxNewTokens = 3 });
        using var memory = model.Encode(features);
        using var sot = full(2, 1, generator.Tokens.StartOfTranscript, dtype: ScalarType.Int64);
        using var logits = model.Decode(sot, memory).select(1, 0);
        for (int i = 0; i < 2; i++)
        {
            var languageLogits = generator.Tokens.LanguageTokenIds.Select(id => logits[i, id].item<double>()).ToList();
            int best = generator.Tokens.LanguageTokenIds[languageLogits.IndexOf(languageLogits.Max())];
            Assert.Equal(generator.Tokens.LanguageCode(best), result[i].Language);
            Assert.Equal(best, result[i].Prefix[1]);
        }
    }

    [Fact]
    public void Max_new_tokens_beyond_the_decoder_positions_is_rejected()
    {
        var (model, generator) = Create(29);
        using var _ = model;
        using var features = TinyWhisper.Features(1, seed: 30, ScalarType.Float64);
        var e = Assert.Throws<ConfigurationException>(() => generator.Generate(features, new WhisperDecodingOptions { Language = "en", MaxNewTokens = 445 }));
        Assert.Contains("1..444", e.Message);
        var stopped = generator.Generate(features, new WhisperDecodingOptions { Language = "en", MaxNewTokens = 2, SuppressTokens = new[] { generator.Tokens.EndOfText } }).Single();
        Assert.Equal(2, stopped.Tokens.Count);
        Assert.False(stopped.EndedWithEndOfText);
    }

    [Fact]
    public void Special_tokens_agree_with_the_whisper_tokenizer()
    {
        var tokenizer = WhisperTokenizer.FromVocabSize(Fixtures.Require("whisper", "multilingual.tiktoken"), 51865);
        var specials = WhisperSpecialTokens.From(tokenizer);
        Assert.Equal((50257, 50258, 50359, 50358, 50363), (specials.EndOfText, specials.StartOfTranscript, specials.Transcribe, specials.Translate, specials.NoTimestamps));
        Assert.Equal(99, specials.LanguageTokenIds.Count);
        Assert.Equal(tokenizer.SotSequence("fr", WhisperTask.Transcribe), specials.SotSequence("fr", WhisperTask.Transcribe));
        Assert.Equal(tokenizer.DefaultSuppressTokens, specials.DefaultSuppressTokens);
        Assert.Equal(new[] { 220, 50257 }, specials.BlankSuppressTokens);
        Assert.Equal("hello world", specials.DecodeText([50258, 50259, 50359, 50363, .. tokenizer.Encode(" hello world", false), 50257]));
        Assert.Throws<ConfigurationException>(() => specials.LanguageToken("klingon"));

        // ".en" models: gpt2.tiktoken numbers language tokens too, but the prefix has neither language nor task.
        var english = WhisperSpecialTokens.From(WhisperTokenizer.FromVocabSize(Fixtures.Require("whisper", "gpt2.tiktoken"), 51864));
        Assert.False(english.IsMultilingual);
        Assert.Equal(new[] { 50257, 50362 }, english.SotSequence(null));
        Assert.Throws<ConfigurationException>(() => english.SotSequence("fr"));
    }
}

file sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
{
    public bool Equals(double a, double b) => Math.Abs(a - b) <= tolerance;
    public int GetHashCode(double x) => 0;
}
