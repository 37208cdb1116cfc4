using PeftSharp.Audio;

namespace PeftSharp.Tests.Audio;

public class WavReaderMalformedTests
{
    private static readonly byte[] Pcm16Fmt = WavBytes.Chunk("fmt ", WavBytes.Fmt(WavBytes.Pcm, 1, 16000, 16));
    private static readonly byte[] FourSamples = WavBytes.Chunk("data", new byte[8]);

    private static byte[] FmtWith(Action<byte[]> edit, bool extensible = false)
    {
        var fmt = WavBytes.Fmt(WavBytes.Pcm, 1, 16000, 16, extensible);
        edit(fmt);
        return WavBytes.Riff(WavBytes.Chunk("fmt ", fmt), FourSamples);
    }

    private static readonly Dictionary<string, (byte[] Bytes, string Expected)> Table = new()
    {
        ["empty"] = ([], "only 0 bytes, shorter than the 12-byte RIFF/WAVE header"),
        ["not RIFF"] = ("OggS\0\0\0\0WAVE"u8.ToArray(), "not a WAV file: starts with 'OggS', expected 'RIFF'"),
        ["big-endian RIFX"] = ("RIFX\0\0\0\0WAVE"u8.ToArray(), "big-endian RIFX is not supported"),
        ["not WAVE"] = ("RIFF\0\0\0\0AVI "u8.ToArray(), "RIFF form type is 'AVI ', expected 'WAVE'"),
        ["no chunks"] = (WavBytes.Riff(), "no 'fmt ' chunk found"),
        ["no data"] = (WavBytes.Riff(Pcm16Fmt), "no 'data' chunk found"),
        ["data before fmt"] = (WavBytes.Riff(FourSamples, Pcm16Fmt), "the 'data' chunk comes before any 'fmt ' chunk"),
        ["short fmt"] = (WavBytes.Riff(WavBytes.Chunk("fmt ", new byte[12]), FourSamples), "the 'fmt ' chunk is 12 bytes, shorter than the 16"),
        ["truncated fmt"] = (WavBytes.Riff(WavBytes.Chunk("fmt ", new byte[4], declared: 16)), "truncated: the 'fmt ' chunk declares 16 bytes but only 4 remain"),
        ["truncated data"] = (WavBytes.Riff(Pcm16Fmt, WavBytes.Chunk("data", new byte[8], declared: 32000)), "truncated: the 'data' chunk declares 32000 bytes but only 8 remain"),
        ["partial frame"] = (WavBytes.Riff(Pcm16Fmt, WavBytes.Chunk("data", new byte[7])), "holds 7 bytes, not a whole number of 2-byte frames"),
        ["24-bit PCM"] = (FmtWith(f => { f[14] = 24; f[12] = 3; }), "unsupported encoding PCM 24-bit; supported are PCM 16-bit, PCM 32-bit and IEEE float 32-bit"),
        ["64-bit float"] = (FmtWith(f => { f[0] = 3; f[14] = 64; f[12] = 8; }), "unsupported encoding IEEE float 64-bit"),
        ["mu-law"] = (FmtWith(f => { f[0] = 7; f[14] = 8; f[12] = 1; }), "unsupported encoding format tag 0x0007"),
        ["extensible unknown subformat"] = (FmtWith(f => f[30] = 0xEE, extensible: true), "WAVE_FORMAT_EXTENSIBLE subformat 010000000000EE00"),
        ["zero channels"] = (FmtWith(f => f[2] = 0), "the format declares 0 channels"),
        ["zero rate"] = (FmtWith(f => f.AsSpan(4, 4).Clear()), "the format declares a sample rate of 0 Hz"),
        ["wrong block align"] = (FmtWith(f => f[12] = 4), "block align is 4 bytes but 1 channel(s) of PCM 16-bit need 2"),
    };

    public static TheoryData<string> Cases => new(Table.Keys);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Malformed_file_is_rejected_naming_the_file_and_the_problem(string name)
    {
        var (bytes, expected) = Table[name];
        var e = Assert.Throws<InvalidFileFormatException>(() => WavReader.Parse(bytes, "/data/clip.wav"));
        Assert.StartsWith("/data/clip.wav: ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Missing_file_raises_file_not_found()
    {
        Assert.Throws<FileNotFoundException>(() => WavReader.Read(Path.Combine(Path.GetTempPath(), "peftsharp-no-such-clip.wav")));
    }
}
