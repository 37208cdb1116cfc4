using PeftSharp.Audio;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Audio;

public class WavReaderTests
{
    public static TheoryData<string, ushort, int, bool, int, int, double> Encodings => new()
    {
        // name, format, bits, extensible, rate, channels, tolerance (one quantization step)
        { "PCM16 mono 16k", WavBytes.Pcm, 16, false, 16000, 1, 1.0 / 32768 },
        { "PCM16 stereo 44.1k", WavBytes.Pcm, 16, false, 44100, 2, 1.0 / 32768 },
        { "PCM32 mono 8k", WavBytes.Pcm, 32, false, 8000, 1, 1e-7 },
        { "PCM32 stereo 16k", WavBytes.Pcm, 32, false, 16000, 2, 1e-7 },
        { "float32 mono 44.1k", WavBytes.Float, 32, false, 44100, 1, 1e-7 },
        { "float32 stereo 8k", WavBytes.Float, 32, false, 8000, 2, 1e-7 },
        { "extensible PCM16 stereo 44.1k", WavBytes.Pcm, 16, true, 44100, 2, 1.0 / 32768 },
        { "extensible float32 mono 8k", WavBytes.Float, 32, true, 8000, 1, 1e-7 },
    };

    [Theory]
    [MemberData(nameof(Encodings))]
    public void Written_file_reads_back_as_the_mono_average(string name, ushort format, int bits, bool extensible, int rate, int channels, double tolerance)
    {
        using var dir = new TempDir();
        var frames = WavBytes.Sine(440, rate, 0.05, 0.8, channels);
        frames[0] = Enumerable.Repeat(-1.0, channels).ToArray();                   // full scale negative
        string path = dir.File(name.Replace(' ', '_') + ".wav");
        File.WriteAllBytes(path, WavBytes.Wav(frames, format, rate, bits, extensible));

        var clip = WavReader.Read(path);

        Assert.Equal(rate, clip.SampleRate);
        Assert.Equal(frames.Length, clip.Samples.Length);
        double worst = frames.Select((f, i) => Math.Abs(f.Average() - clip.Samples[i])).Max();
        Assert.True(worst <= tolerance, $"{name}: max difference {worst:E2} > {tolerance:E2}");
        Assert.Equal(-1f, clip.Samples[0]);
    }

    [Fact]
    public void Unknown_chunks_before_and_after_fmt_are_skipped_including_odd_sized_ones()
    {
        var frames = WavBytes.Sine(1000, 16000, 0.01, 0.5);
        var bytes = WavBytes.Riff(
            WavBytes.Chunk("LIST", [1, 2, 3]),                                       // odd size: padded to 4
            WavBytes.Chunk("fmt ", WavBytes.Fmt(WavBytes.Pcm, 1, 16000, 16)),
            WavBytes.Chunk("fact", new byte[4]),
            WavBytes.Chunk("data", WavBytes.Encode(frames, WavBytes.Pcm, 16)),
            WavBytes.Chunk("id3 ", new byte[10]));

        var clip = WavReader.Parse(bytes, "test.wav");

        Assert.Equal(frames.Length, clip.Samples.Length);
        Assert.Equal(frames[7][0], clip.Samples[7], 1e-4);
    }

    [Fact]
    public void Jfk_fixture_reads_as_11_seconds_of_16k_audio()
    {
        var clip = WavReader.Read(Fixtures.Require("audio", "jfk.wav"));
        Assert.Equal(16000, clip.SampleRate);
        Assert.InRange(clip.DurationSeconds, 10.9, 11.1);
        Assert.InRange(clip.Samples.Max(x => Math.Abs(x)), 0.1f, 1f);
    }
}
