using PeftSharp.Audio;
using PeftSharp.IO.SafeTensors;
using PeftSharp.Tests.Support;
using TorchSharp;

namespace PeftSharp.Tests.Audio;

/// <summary>Against transformers' WhisperFeatureExtractor (tools/golden/make_golden_logmel.py) on the jfk.wav fixture.</summary>
public class LogMelSpectrogramTests
{
    private static void Log(string line) => TestContext.Current.TestOutputHelper?.WriteLine(line);

    [Theory]
    [InlineData(80)]
    [InlineData(128)]
    public void Jfk_features_match_transformers(int bins)
    {
        var clip = WavReader.Read(Fixtures.Require("audio", "jfk.wav"));
        using var scope = torch.NewDisposeScope();
        using var golden = SafeTensorsFile.Open(Fixtures.Golden("whisper", "jfk_logmel.safetensors"));
        Assert.Equal(clip.Samples.Length, golden.Load("audio_samples").item<long>());
        var expected = golden.Load($"log_mel_{bins}");

        var features = LogMelSpectrogram.Compute(clip.Samples, MelFilterBank.Slaney(bins));

        Assert.Equal([bins, 3000], features.shape);
        double diff = (features[.., ..1100] - expected).abs().max().item<float>();
        double maxDiff = Math.Abs(features.max().item<float>() - golden.Load($"log_mel_{bins}_full_max").item<float>());
        double minDiff = Math.Abs(features.min().item<float>() - golden.Load($"log_mel_{bins}_full_min").item<float>());
        Log($"{bins} bins: max |ours - transformers| over [{bins}, 1100] = {diff:E2}; full max diff {maxDiff:E2}, full min diff {minDiff:E2}");
        Assert.True(diff < 1e-4, $"max difference {diff:E2}");
        Assert.True(maxDiff < 1e-5 && minDiff < 1e-5, $"full-array max/min differ by {maxDiff:E2}/{minDiff:E2}");
    }

    [Theory]
    [InlineData(80)]
    [InlineData(128)]
    public void Features_with_the_npz_filterbank_match_transformers(int bins)
    {
        var clip = WavReader.Read(Fixtures.Require("audio", "jfk.wav"));
        var filters = MelFilterBank.FromNpz(Fixtures.Require("whisper", "mel_filters.npz"), bins);
        using var scope = torch.NewDisposeScope();
        using var golden = SafeTensorsFile.Open(Fixtures.Golden("whisper", "jfk_logmel.safetensors"));

        var features = LogMelSpectrogram.Compute(clip.Samples, filters);

        double diff = (features[.., ..1100] - golden.Load($"log_mel_{bins}")).abs().max().item<float>();
        Log($"{bins} bins, npz filterbank: max difference {diff:E2}");
        Assert.True(diff < 1e-4, $"max difference {diff:E2}");
    }

    [Theory]
    [InlineData(80)]
    [InlineData(128)]
    public void Computed_slaney_filterbank_equals_whisper_npz(int bins)
    {
        var fromNpz = MelFilterBank.FromNpz(Fixtures.Require("whisper", "mel_filters.npz"), bins);
        var computed = MelFilterBank.Slaney(bins);
        double diff = fromNpz.Weights.Zip(computed.Weights, (a, b) => Math.Abs(a - b)).Max();
        double peak = fromNpz.Weights.Max();
        Log($"{bins} bins: max |computed - npz| = {diff:E2} (largest weight {peak:E2})");
        Assert.True(diff < 1e-6, $"max difference {diff:E2}");
    }

    [Fact]
    public void Long_audio_is_trimmed_to_30_seconds_and_silence_floors_at_max_minus_8()
    {
        var filters = MelFilterBank.Slaney(80);
        var rng = new Random(1);
        var noise = Enumerable.Range(0, 35 * 16000).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var trimmed = LogMelSpectrogram.ComputeArray(noise, filters);
        var exact = LogMelSpectrogram.ComputeArray(noise[..(30 * 16000)], filters);
        Assert.Equal(exact, trimmed);

        var shortClip = LogMelSpectrogram.ComputeArray(noise[..16000], filters);  // 1 s, then 29 s of zero padding
        float max = shortClip.Max(), min = shortClip.Min();
        Assert.Equal(max - 2f, min, 1e-5);                                     // (max - 8 + 4)/4 = max' - 2
        Assert.Equal(min, shortClip[79 * 3000 + 2999]);
    }
}
