using System.Buffers.Binary;

namespace PeftSharp.Audio;

/// <summary>Mono audio: float32 samples (PCM scaled to [-1, 1)) and their sample rate in Hz.</summary>
public sealed record AudioClip(float[] Samples, int SampleRate)
{
    /// <summary>Length of the clip in seconds (samples / rate).</summary>
    public double DurationSeconds => (double)Samples.Length / SampleRate;
}

/// <summary>
/// Reads RIFF/WAVE files: PCM 16-bit, PCM 32-bit and IEEE float 32-bit (format tags 1 and 3, and
/// WAVE_FORMAT_EXTENSIBLE with those subformats), any sample rate and channel count. Channels are downmixed to mono
/// by averaging; PCM is scaled by 1/32768 or 1/2^31; float samples are returned as stored. Chunks other than
/// 'fmt ' and 'data' (LIST, fact, cue, ...) are skipped. Malformed, truncated or unsupported files raise
/// <see cref="InvalidFileFormatException"/> naming the file and what was found.
/// </summary>
public static class WavReader
{
    private const ushort FormatPcm = 1, FormatFloat = 3, FormatExtensible = 0xFFFE;

    // KSDATAFORMAT_SUBTYPE_* GUIDs share this tail after their 2-byte format code (bytes 2..15 of the GUID).
    private static ReadOnlySpan<byte> SubformatTail => [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71];

    /// <summary>
    /// Reads and decodes the WAV file at <paramref name="path"/> to mono float samples at its own rate (see the class
    /// for the encodings accepted); resample with <see cref="Resampler.To16k"/> for Whisper.
    /// </summary>
    /// <exception cref="InvalidFileFormatException">The file is not a WAV file, is truncated or uses an unsupported
    /// encoding; the message names the path.</exception>
    /// <exception cref="IOException">The file cannot be read (FileNotFoundException when it does not
    /// exist).</exception>
    public static AudioClip Read(string path)
    {
        path = Path.GetFullPath(path);
        return Parse(File.ReadAllBytes(path), path);
    }

    /// <summary>Parses WAV bytes; <paramref name="source"/> names them in error messages.</summary>
    public static AudioClip Parse(ReadOnlySpan<byte> bytes, string source)
    {
        if (bytes.Length < 12)
            throw Bad(source, $"only {bytes.Length} bytes, shorter than the 12-byte RIFF/WAVE header");
        if (!bytes[..4].SequenceEqual("RIFF"u8))
            throw Bad(source, $"not a WAV file: starts with '{Ascii(bytes[..4])}', expected 'RIFF'" +
                (bytes[..4].SequenceEqual("RIFX"u8) ? " (big-endian RIFX is not supported)" : ""));
        if (!bytes[8..12].SequenceEqual("WAVE"u8))
            throw Bad(source, $"RIFF form type is '{Ascii(bytes[8..12])}', expected 'WAVE'");

        Format? format = null;
        long offset = 12; // long: a chunk may declare up to 4 GB, which would overflow an int offset
        while (offset + 8 <= bytes.Length)
        {
            var id = bytes.Slice((int)offset, 4);
            long size = BinaryPrimitives.ReadUInt32LittleEndian(bytes[((int)offset + 4)..]);
            int body = (int)offset + 8;
            if (id.SequenceEqual("fmt "u8))
            {
                if (body + size > bytes.Length)
                    throw Bad(source, $"truncated: the 'fmt ' chunk declares {size} bytes but only {bytes.Length - body} remain");
                format = ParseFormat(bytes.Slice(body, (int)size), source);
            }
            else if (id.SequenceEqual("data"u8))
            {
                if (format is null)
                    throw Bad(source, "the 'data' chunk comes before any 'fmt ' chunk, so its encoding is unknown");
                if (body + size > bytes.Length)
                    throw Bad(source, $"truncated: the 'data' chunk declares {size} bytes but only {bytes.Length - body} remain");
                return Decode(bytes.Slice(body, (int)size), format, source);
            }
            offset = body + size + (size & 1); // chunks are word-aligned
        }
        throw Bad(source, format is null ? "no 'fmt ' chunk found" : "no 'data' chunk found");
    }

    private sealed record Format(ushort Tag, int Channels, int SampleRate, int BlockAlign, int Bits);

    private static Format ParseFormat(ReadOnlySpan<byte> fmt, string source)
    {
        if (fmt.Length < 16)
            throw Bad(source, $"the 'fmt ' chunk is {fmt.Length} bytes, shorter than the 16 a WAV format needs");
        ushort tag = BinaryPrimitives.ReadUInt16LittleEndian(fmt);
        int channels = BinaryPrimitives.ReadUInt16LittleEndian(fmt[2..]);
        long rate = BinaryPrimitives.ReadUInt32LittleEndian(fmt[4..]);
        int blockAlign = BinaryPrimitives.ReadUInt16LittleEndian(fmt[12..]);
        int bits = BinaryPrimitives.ReadUInt16LittleEndian(fmt[14..]);
        if (tag == FormatExtensible)
        {
            if (fmt.Length < 40)
                throw Bad(source, $"WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk is {fmt.Length} bytes, expected 40");
            var guid = fmt.Slice(24, 16);
            tag = BinaryPrimitives.ReadUInt16LittleEndian(guid);
            if (!guid[2..].SequenceEqual(SubformatTail))
                throw Bad(source, $"WAVE_FORMAT_EXTENSIBLE subformat {Convert.ToHexString(guid)} is not PCM or IEEE float");
        }
        if (channels == 0) throw Bad(source, "the format declares 0 channels");
        if (rate is 0 or > int.MaxValue) throw Bad(source, $"the format declares a sample rate of {rate} Hz");
        string found = tag switch { FormatPcm => $"PCM {bits}-bit", FormatFloat => $"IEEE float {bits}-bit", _ => $"format tag 0x{tag:X4}" };
        if (!(tag == FormatPcm && bits is 16 or 32 || tag == FormatFloat && bits == 32))
            throw Bad(source, $"unsupported encoding {found}; supported are PCM 16-bit, PCM 32-bit and IEEE float 32-bit " +
                "(convert with e.g. `ffmpeg -i in.wav -c:a pcm_s16le out.wav`)");
        if (blockAlign != channels * bits / 8)
            throw Bad(source, $"block align is {blockAlign} bytes but {channels} channel(s) of {found} need {channels * bits / 8}");
        return new Format(tag, channels, (int)rate, blockAlign, bits);
    }

    private static AudioClip Decode(ReadOnlySpan<byte> data, Format f, string source)
    {
        if (data.Length % f.BlockAlign != 0)
            throw Bad(source, $"the 'data' chunk holds {data.Length} bytes, not a whole number of {f.BlockAlign}-byte frames (truncated?)");
        int frames = data.Length / f.BlockAlign, width = f.Bits / 8;
        var samples = new float[frames];
        for (int i = 0; i < frames; i++)
        {
            double sum = 0;
            for (int c = 0; c < f.Channels; c++)
            {
                var s = data[(i * f.BlockAlign + c * width)..];
                sum += f.Tag == FormatFloat ? BinaryPrimitives.ReadSingleLittleEndian(s)
                    : f.Bits == 16 ? BinaryPrimitives.ReadInt16LittleEndian(s) / 32768.0
                    : BinaryPrimitives.ReadInt32LittleEndian(s) / 2147483648.0;
            }
            samples[i] = (float)(sum / f.Channels);
        }
        return new AudioClip(samples, f.SampleRate);
    }

    private static string Ascii(ReadOnlySpan<byte> b) => new(b.ToArray().Select(x => x is >= 32 and < 127 ? (char)x : '?').ToArray());

    private static InvalidFileFormatException Bad(string source, string problem) => new(source, problem);
}
