using PeftSharp.Training;
using PeftSharp.Audio;
using PeftSharp.Data;
using PeftSharp.Data.Speech;
using PeftSharp.Tests.Support;
using PeftSharp.Tokenization.Whisper;
using static PeftSharp.Tests.Data.AsrTestClips;

namespace PeftSharp.Tests.Data;

public class AsrBatchSourceTests
{
    const int Pad = 1, Mels = 80;
    static readonly MelFilterBank Filters = MelFilterBank.Slaney(Mels);

    // One id per character after a 3-token prefix: transcript lengths are easy to read off.
    static AsrLabelBuilder CharLabels() => new([100, 101, 102], endOfText: Pad, text => text.Select(c => (int)c).ToArray());

    /// <summary>Five tones of different pitch, length and rate, with transcripts of different lengths.</summary>
    static List<AsrExample> FiveClips(TempDir dir)
    {
        string[] texts = ["a", "bbbbbb", "cc", "ddddddddd", "eee"];
        var rows = texts.Select((t, i) =>
            Row(Path.GetFileName(Tone(dir.File($"{i}.wav"), 200 + 150 * i, 0.3 + 0.2 * i, i % 2 == 0 ? 22050 : 16000)), t)).ToArray();
        return [.. AsrManifestReader.Read(Manifest(dir.File("m.jsonl"), rows)).Examples];
    }

    [Fact]
    public void Batches_have_whisper_shapes_eot_padded_inputs_and_ignore_padded_labels()
    {
        using var dir = Fixtures.NewTempDir();
        var examples = FiveClips(dir);
        var source = new AsrBatchSource(examples, CharLabels(), Filters, new AsrBatchOptions { BatchSize = 2, Seed = 7 });
        var order = source.Order(0);

        Assert.Equal(3, source.BatchesPerEpoch);
        var batches = source.Epoch(0).ToList();
        try
        {
            Assert.Equal([2, 2, 1], batches.Select(b => (int)b.InputIds.shape[0]));
            for (int k = 0; k < batches.Count; k++)
            {
                var batch = batches[k];
                var rows = order.Skip(2 * k).Take(2).ToArray();
                int t = rows.Max(i => source.Targets(i).Length);
                Assert.Equal([rows.Length, Mels, 3000], batch.InputFeatures!.shape);
                Assert.Equal(ScalarType.Float32, batch.InputFeatures.dtype);
                Assert.Equal([rows.Length, t], batch.InputIds.shape);
                Assert.Equal([rows.Length, t], batch.Labels.shape);
                Assert.Equal(ScalarType.Int64, batch.InputIds.dtype);
                Assert.Null(batch.AttentionMask);
                for (int r = 0; r < rows.Length; r++)
                {
                    var target = source.Targets(rows[r]);
                    int n = target.Length;
                    var ids = batch.InputIds[r].data<long>().ToArray();
                    var labels = batch.Labels[r].data<long>().ToArray();
                    Assert.Equal(target.DecoderInputIds.Select(x => (long)x), ids[..n]);
                    Assert.Equal(target.Labels.Select(x => (long)x), labels[..n]);
                    Assert.All(ids[n..], id => Assert.Equal(Pad, id));
                    Assert.All(labels[n..], l => Assert.Equal(TokenizedExample.IgnoreIndex, l));
                    Assert.Equal(" " + examples[rows[r]].Text, new string(target.DecoderInputIds[3..].Select(c => (char)c).ToArray()));
                }
            }
            // The longest transcript (9 characters) really pads its batch partner.
            Assert.Contains(batches, b => b.Labels.eq(TokenizedExample.IgnoreIndex).any().item<bool>());
        }
        finally { batches.ForEach(b => b.Dispose()); }
    }

    [Fact]
    public void Each_row_holds_the_features_of_its_own_clip()
    {
        using var dir = Fixtures.NewTempDir();
        var examples = FiveClips(dir).Take(3).ToList();
        var source = new AsrBatchSource(examples, CharLabels(), Filters, new AsrBatchOptions { BatchSize = 3, Seed = 3 });
        var order = source.Order(1);

        using var batch = source.Epoch(1).Single();

        for (int r = 0; r < 3; r++)
        {
            using var expected = LogMelSpectrogram.FromWav(examples[order[r]].AudioPath, Filters);
            Assert.True(batch.InputFeatures![r].eq(expected).all().item<bool>(), $"row {r} is not clip {order[r]}");
        }
    }

    static long ClipBytes(int clips) => clips * (long)Mels * 3000 * sizeof(float);

    [Fact]
    public void A_set_that_fits_the_feature_cache_reads_its_audio_only_in_the_first_epoch()
    {
        using var dir = Fixtures.NewTempDir();
        var examples = FiveClips(dir).Take(3).ToList();
        var source = new AsrBatchSource(examples, CharLabels(), Filters, new AsrBatchOptions { BatchSize = 2, FeatureCacheBytes = ClipBytes(3) });
        var first = source.Epoch(0).Select(b => { using (b) return b.InputFeatures!.data<float>().ToArray(); }).SelectMany(x => x).ToArray();
        Assert.Equal(3, source.CachedClips);
        examples.ForEach(e => File.Delete(e.AudioPath));

        var order0 = source.Order(0);
        var order1 = source.Order(1);
        var second = source.Epoch(1).Select(b => { using (b) return b.InputFeatures!.data<float>().ToArray(); }).SelectMany(x => x).ToArray();

        int size = Mels * 3000;
        for (int r = 0; r < 3; r++)
        {
            int at0 = Array.IndexOf(order0, order1[r]);
            Assert.True(first.AsSpan(at0 * size, size).SequenceEqual(second.AsSpan(r * size, size)), $"clip {order1[r]} changed between epochs");
        }
    }

    [Fact]
    public void The_feature_cache_drops_the_least_recently_used_clip_and_can_be_turned_off()
    {
        using var dir = Fixtures.NewTempDir();
        var examples = FiveClips(dir).Take(3).ToList();
        var options = new AsrBatchOptions { BatchSize = 1, Shuffle = false, FeatureCacheBytes = ClipBytes(2) };
        var source = new AsrBatchSource(examples, CharLabels(), Filters, options);
        foreach (var b in source.Epoch(0)) b.Dispose();                // computes 0, 1, 2: keeps 2 and 1
        Assert.Equal(2, source.CachedClips);
        File.Delete(examples[1].AudioPath);
        File.Delete(examples[2].AudioPath);

        using var epoch = source.Epoch(1).GetEnumerator();
        Assert.True(epoch.MoveNext());                                 // clip 0 is read again and evicts clip 1, the oldest
        epoch.Current.Dispose();
        Assert.Throws<FileNotFoundException>(() => epoch.MoveNext());

        var uncached = new AsrBatchSource(examples.Take(1).ToList(), CharLabels(), Filters, options with { FeatureCacheBytes = 0 });
        foreach (var b in uncached.Epoch(0)) b.Dispose();
        Assert.Equal(0, uncached.CachedClips);
    }

    [Fact]
    public void Order_is_deterministic_per_seed_and_epoch_and_differs_across_epochs()
    {
        using var dir = Fixtures.NewTempDir();
        Tone(dir.File("a.wav"), 440);
        var path = Manifest(dir.File("m.jsonl"), Enumerable.Range(0, 40).Select(i => Row("a.wav", $"clip {i}")).ToArray());
        var examples = AsrManifestReader.Read(path).Examples;
        AsrBatchSource Source(int seed, bool shuffle = true) =>
            new(examples, CharLabels(), Filters, new AsrBatchOptions { BatchSize = 4, Seed = seed, Shuffle = shuffle });

        var a = Source(42);
        Assert.Equal(a.Order(3), Source(42).Order(3));              // a resumed run sees the same data
        Assert.NotEqual(a.Order(0), a.Order(1));
        Assert.NotEqual(a.Order(0), Source(43).Order(0));
        Assert.Equal(Enumerable.Range(0, 40), a.Order(2).Order());  // a permutation
        Assert.Equal(Enumerable.Range(0, 40), Source(42, shuffle: false).Order(5));
        Assert.Equal(10, a.BatchesPerEpoch);
    }

    [Fact]
    public void Features_come_in_the_requested_dtype()
    {
        using var dir = Fixtures.NewTempDir();
        var examples = FiveClips(dir).Take(1).ToList();
        var source = new AsrBatchSource(examples, CharLabels(), Filters, new AsrBatchOptions { FeatureDtype = ScalarType.BFloat16 });

        using var batch = source.Epoch(0).Single();
        using var fp32 = LogMelSpectrogram.FromWav(examples[0].AudioPath, Filters);

        Assert.Equal(ScalarType.BFloat16, batch.InputFeatures!.dtype);
        double diff = (batch.InputFeatures[0].to_type(ScalarType.Float32) - fp32).abs().max().item<float>();
        Assert.True(diff < 0.01, $"bf16 features differ from fp32 by {diff}");
    }

    [Fact]
    public void Jfk_features_through_the_batch_source_equal_LogMelSpectrogram_FromWav()
    {
        string jfk = Fixtures.Require("audio", "jfk.wav");
        var tok = new WhisperTokenizer(Fixtures.Require("whisper", "multilingual.tiktoken"));
        var filters = MelFilterBank.FromNpz(Fixtures.Require("whisper", "mel_filters.npz"), Mels);
        using var dir = Fixtures.NewTempDir();
        const string text = "And so, my fellow Americans, ask not what your country can do for you, ask what you can do for your country.";
        var examples = AsrManifestReader.Read(Manifest(dir.File("m.jsonl"), Row(jfk, text, "en"))).Examples;
        var source = new AsrBatchSource(examples, AsrLabelBuilder.ForWhisper(tok), filters);

        using var batch = source.Epoch(0).Single();
        using var expected = LogMelSpectrogram.FromWav(jfk, filters);

        Assert.Equal([1, Mels, 3000], batch.InputFeatures!.shape);
        Assert.True(batch.InputFeatures[0].eq(expected).all().item<bool>(), "features differ from LogMelSpectrogram.FromWav");
        var ids = batch.InputIds[0].data<long>().Select(x => (int)x).ToArray();
        Assert.Equal([50258, 50259, 50359, 50363], ids[..4]);
        Assert.Equal(" " + text, tok.Decode(ids));
        Assert.Equal(50257, batch.Labels[0, -1].item<long>());
    }

    [Fact]
    public void An_unknown_example_language_is_a_configuration_error_naming_the_row()
    {
        var tok = new WhisperTokenizer(Fixtures.Require("whisper", "multilingual.tiktoken"));
        using var dir = Fixtures.NewTempDir();
        Tone(dir.File("a.wav"), 440);
        var path = Manifest(dir.File("m.jsonl"), Row("a.wav", "hello", "en"), Row("a.wav", "qapla", "klingon"));
        var examples = AsrManifestReader.Read(path).Examples;

        var e = Assert.Throws<ConfigurationException>(() => new AsrBatchSource(examples, AsrLabelBuilder.ForWhisper(tok), Filters));

        Assert.Contains($"{path}:2:", e.Message);
        Assert.Contains("'klingon' is not a Whisper language", e.Message);
    }

    [Fact]
    public void Truncated_transcripts_are_warned_about_once_naming_the_manifest()
    {
        using var dir = Fixtures.NewTempDir();
        Tone(dir.File("a.wav"), 440);
        var path = Manifest(dir.File("m.jsonl"), Row("a.wav", "short"), Row("a.wav", "much longer text"), Row("a.wav", "also too long"));
        var examples = AsrManifestReader.Read(path).Examples;
        var labels = new AsrLabelBuilder([100, 101, 102], Pad, text => text.Select(c => (int)c).ToArray(), maxTargetLength: 10);
        var warnings = new List<string>();

        AsrBatchSource source;
        using (Diagnostics.RedirectWarnings(warnings.Add)) source = new AsrBatchSource(examples, labels, Filters);

        Assert.Contains($"{path}: 2 transcript(s) truncated to 10", Assert.Single(warnings));
        Assert.All(Enumerable.Range(0, 3), i => Assert.True(source.Targets(i).Length <= 10));
        Assert.Equal(Pad, source.Targets(1).Labels[^1]);
    }

    [Fact]
    public void Invalid_batch_size_is_rejected()
    {
        using var dir = Fixtures.NewTempDir();
        var examples = FiveClips(dir).Take(1).ToList();
        var e = Assert.Throws<ConfigurationException>(() => new AsrBatchSource(examples, CharLabels(), Filters, new AsrBatchOptions { BatchSize = 0 }));
        Assert.Contains("batch size must be at least 1", e.Message);
    }
}
