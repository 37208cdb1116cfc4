using PeftSharp.Audio;
using TorchSharp;

namespace PeftSharp.Tests.Audio;

public class ResamplerTests
{
    private static float[] Sine(double hz, int rate, double seconds, double amplitude) =>
        Enumerable.Range(0, (int)(rate * seconds)).Select(i => (float)(amplitude * Math.Sin(2 * Math.PI * hz * i / rate))).ToArray();

    /// <summary>Frequency (Hz) of the largest magnitude bin of one second of 16 kHz audio (1 Hz bins).</summary>
    private static int PeakHz(float[] oneSecond)
    {
        using var scope = torch.NewDisposeScope();
        var spectrum = torch.fft.rfft(torch.tensor(oneSecond)).abs();
        return (int)spectrum.argmax().item<long>();
    }

    private static double Rms(ReadOnlySpan<float> x)
    {
        double s = 0;
        foreach (float v in x) s += (double)v * v;
        return Math.Sqrt(s / x.Length);
    }

    [Theory]
    [InlineData(44100, 1000.0)]
    [InlineData(44100, 6000.0)]
    [InlineData(8000, 440.0)]
    [InlineData(8000, 3000.0)]
    [InlineData(22050, 5000.0)]
    [InlineData(48000, 2500.0)]
    public void Sine_keeps_its_frequency_and_amplitude(int fromRate, double hz)
    {
        const double amplitude = 0.6;
        var input = Sine(hz, fromRate, 2.0, amplitude);

        var output = Resampler.Resample(input, fromRate, 16000);

        Assert.Equal(32000, output.Length);
        var middle = output.AsSpan(8000, 16000);                                   // one second away from the edges
        Assert.Equal((int)hz, PeakHz(middle.ToArray()));
        double expectedRms = amplitude / Math.Sqrt(2), rms = Rms(middle);
        double worst = 0;
        for (int i = 8000; i < 24000; i++) worst = Math.Max(worst, Math.Abs(output[i] - amplitude * Math.Sin(2 * Math.PI * hz * i / 16000)));
        TestContext.Current.TestOutputHelper?.WriteLine($"{fromRate} Hz -> 16 kHz, {hz} Hz sine: rms {rms:F6} (expected {expectedRms:F6}), max sample error {worst:E2}");
        Assert.Equal(expectedRms, rms, 1e-5);
        Assert.True(worst < 1e-5, $"max deviation from the ideal 16 kHz sine {worst:E2}");
    }

    [Theory]
    [InlineData(44100, 10000.0)]
    [InlineData(48000, 12000.0)]
    public void Tone_above_the_new_nyquist_is_removed_not_aliased(int fromRate, double hz)
    {
        var output = Resampler.Resample(Sine(hz, fromRate, 1.0, 1.0), fromRate, 16000);
        double rms = Rms(output.AsSpan(2000, 12000));
        TestContext.Current.TestOutputHelper?.WriteLine($"{hz} Hz at {fromRate} Hz -> 16 kHz: rms {rms:E2}");
        Assert.True(rms < 1e-4, $"alias rms {rms:E2}");
    }

    [Fact]
    public void Sixteen_kilohertz_passes_through_exactly()
    {
        var input = Sine(123, 16000, 0.1, 0.9);
        var output = Resampler.Resample(input, 16000, 16000);
        Assert.Equal(input, output);
        Assert.NotSame(input, output);
        var clip = Resampler.To16k(new AudioClip(input, 16000));
        Assert.Equal(input, clip.Samples);
        Assert.Equal(16000, clip.SampleRate);
    }

    [Fact]
    public void Non_positive_rate_is_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Resampler.Resample([1f], 0, 16000));
    }
}
