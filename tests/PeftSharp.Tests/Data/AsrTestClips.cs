using PeftSharp.Tests.Audio;

namespace PeftSharp.Tests.Data;

/// <summary>Synthesized tone WAVs and manifests for the speech-data tests (no TTS or fixture needed).</summary>
internal static class AsrTestClips
{
    /// <summary>Writes a mono PCM16 sine of <paramref name="hz"/> Hz to <paramref name="path"/> (folders created).</summary>
    public static string Tone(string path, double hz, double seconds = 0.5, int rate = 22050)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var frames = WavBytes.Sine(hz, rate, seconds, 0.3);
        File.WriteAllBytes(path, frames.Length > 0
            ? WavBytes.Wav(frames, WavBytes.Pcm, rate, 16)
            : WavBytes.Riff(WavBytes.Chunk("fmt ", WavBytes.Fmt(WavBytes.Pcm, 1, rate, 16)), WavBytes.Chunk("data", [])));
        return path;
    }

    /// <summary>A JSONL manifest of the given rows (raw JSON object text, one per line).</summary>
    public static string Manifest(string path, params string[] rows)
    {
        File.WriteAllText(path, string.Join("\n", rows) + "\n");
        return path;
    }

    public static string Row(string audio, string text, string? language = null) =>
        language is null
            ? $"{{\"audio\": \"{audio}\", \"text\": \"{text}\"}}"
            : $"{{\"audio\": \"{audio}\", \"text\": \"{text}\", \"language\": \"{language}\"}}";
}
