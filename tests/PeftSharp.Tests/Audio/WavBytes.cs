using System.Buffers.Binary;

namespace PeftSharp.Tests.Audio;

/// <summary>Builds WAV files byte by byte (not with any writer of ours), for reader tests.</summary>
internal static class WavBytes
{
    public const ushort Pcm = 1, Float = 3, Extensible = 0xFFFE;

    /// <summary>Interleaved frames [frame][channel] in [-1, 1], encoded as PCM 16/32 or float 32.</summary>
    public static byte[] Encode(double[][] frames, ushort format, int bits)
    {
        int channels = frames[0].Length, width = bits / 8;
        var data = new byte[frames.Length * channels * width];
        for (int i = 0; i < frames.Length; i++)
            for (int c = 0; c < channels; c++)
            {
                var span = data.AsSpan((i * channels + c) * width);
                double v = frames[i][c];
                if (format == Float) BinaryPrimitives.WriteSingleLittleEndian(span, (float)v);
                else if (bits == 16) BinaryPrimitives.WriteInt16LittleEndian(span, (short)Math.Clamp(Math.Round(v * 32768), short.MinValue, short.MaxValue));
                else BinaryPrimitives.WriteInt32LittleEndian(span, (int)Math.Clamp(Math.Round(v * 2147483648.0), int.MinValue, int.MaxValue));
            }
        return data;
    }

    public static byte[] Fmt(ushort format, int channels, int rate, int bits, bool extensible = false)
    {
        var fmt = new byte[extensible ? 40 : 16];
        BinaryPrimitives.WriteUInt16LittleEndian(fmt, extensible ? Extensible : format);
        BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(2), (ushort)channels);
        BinaryPrimitives.WriteUInt32LittleEndian(fmt.AsSpan(4), (uint)rate);
        BinaryPrimitives.WriteUInt32LittleEndian(fmt.AsSpan(8), (uint)(rate * channels * bits / 8));
        BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(12), (ushort)(channels * bits / 8));
        BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(14), (ushort)bits);
        if (extensible)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(16), 22);        // cbSize
            BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(18), (ushort)bits); // valid bits
            BinaryPrimitives.WriteUInt32LittleEndian(fmt.AsSpan(20), channels == 2 ? 3u : 4u);
            BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(24), format);
            byte[] tail = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71];
            tail.CopyTo(fmt, 26);
        }
        return fmt;
    }

    public static byte[] Chunk(string id, byte[] body, uint? declared = null)
    {
        var bytes = new byte[8 + body.Length + (body.Length & 1)];
        System.Text.Encoding.ASCII.GetBytes(id).CopyTo(bytes, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), declared ?? (uint)body.Length);
        body.CopyTo(bytes, 8);
        return bytes;
    }

    public static byte[] Riff(params byte[][] chunks)
    {
        var body = chunks.SelectMany(c => c).ToArray();
        return [.. "RIFF"u8, .. BitConverter.GetBytes((uint)(4 + body.Length)), .. "WAVE"u8, .. body];
    }

    public static byte[] Wav(double[][] frames, ushort format, int rate, int bits, bool extensible = false) =>
        Riff(Chunk("fmt ", Fmt(format, frames[0].Length, rate, bits, extensible)), Chunk("data", Encode(frames, format, bits)));

    public static double[][] Sine(double hz, int rate, double seconds, double amplitude, int channels = 1) =>
        Enumerable.Range(0, (int)(rate * seconds))
            .Select(i => Enumerable.Range(0, channels).Select(c => amplitude * Math.Sin(2 * Math.PI * hz * i / rate + c)).ToArray())
            .ToArray();
}
