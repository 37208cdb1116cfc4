using System.Diagnostics;
using PeftSharp.Audio;
using PeftSharp.Data.Speech;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Data;

/// <summary>Runs examples/asr/make_tts_dataset.sh when espeak-ng is installed; skipped (with why) otherwise.</summary>
public class AsrTtsScriptTests
{
    static readonly string Script = Path.Combine(Fixtures.RepoRoot, "examples", "asr", "make_tts_dataset.sh");

    static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => d.Length > 0 && File.Exists(Path.Combine(d, tool)));

    static string Run(params string[] args)
    {
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Script);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(120_000), "the TTS script did not finish within 2 minutes");
        Assert.True(p.ExitCode == 0, $"the TTS script failed ({p.ExitCode}): {stderr.Result}");
        return stdout;
    }

    static void RequireEspeak()
    {
        if (!OnPath("espeak-ng"))
            Assert.Skip("espeak-ng is not on PATH; install it (apt-get install espeak-ng) to run the TTS dataset script");
    }

    [Fact]
    public void Shipped_sentences_become_an_80_20_split_of_22050_Hz_clips_our_readers_load()
    {
        RequireEspeak();
        using var dir = Fixtures.NewTempDir();
        string[] sentences = [.. File.ReadLines(Path.Combine(Fixtures.RepoRoot, "examples", "asr", "sentences.txt")).Where(l => l.Trim().Length > 0)];

        string report = Run(dir.Path);

        var train = AsrManifestReader.Read(dir.File("train.jsonl"));
        var eval = AsrManifestReader.Read(dir.File("eval.jsonl"));
        TestContext.Current.TestOutputHelper?.WriteLine(report.Trim());
        Assert.Contains($"{sentences.Length} clips", report);
        Assert.Equal(sentences.Length, train.Examples.Count + eval.Examples.Count);
        Assert.Equal(sentences.Length / 5, eval.Examples.Count);
        Assert.Equal(0, train.Skipped + eval.Skipped);
        Assert.Equal(sentences.Order(), train.Examples.Concat(eval.Examples).Select(e => e.Text).Order());
        Assert.Equal(sentences[4], eval.Examples[0].Text);                 // every 5th line is held out
        Assert.All(train.Examples.Concat(eval.Examples), e =>
        {
            Assert.Equal("en", e.Language);
            Assert.InRange(e.DurationSeconds, 0.5, 10);
        });
        var clip = WavReader.Read(train.Examples[0].AudioPath);
        Assert.Equal(22050, clip.SampleRate);
        Assert.True(clip.Samples.Max(Math.Abs) > 0.05f, "the first clip is silent");
    }

    [Fact]
    public void Quotes_and_backslashes_survive_into_the_manifest_and_voices_and_speeds_vary_the_audio()
    {
        RequireEspeak();
        using var dir = Fixtures.NewTempDir();
        var sentences = dir.File("s.txt");
        const string same = "Same words, \"quoted\" and back\\slashed, spoken four times.";
        File.WriteAllLines(sentences, [same, same, "", same, same, "Fifth line."]);   // the blank line is no clip

        Run(Path.Combine(dir.Path, "out"), "--sentences", sentences, "--voices", "en-us en-gb", "--speeds", "120 200");

        var train = AsrManifestReader.Read(Path.Combine(dir.Path, "out", "train.jsonl")).Examples;
        var eval = AsrManifestReader.Read(Path.Combine(dir.Path, "out", "eval.jsonl")).Examples;
        Assert.Equal([same, same, same, same], train.Select(e => e.Text));
        Assert.Equal("Fifth line.", Assert.Single(eval).Text);
        // Clip i gets voice i mod 2 and speed (i / 2) mod 2: en-us 120, en-gb 120, en-us 200, en-gb 200 words/minute.
        Assert.True(train[0].DurationSeconds > 1.3 * train[2].DurationSeconds,
            $"120 wpm lasted {train[0].DurationSeconds:F2} s, 200 wpm {train[2].DurationSeconds:F2} s");
        Assert.NotEqual(WavReader.Read(train[0].AudioPath).Samples, WavReader.Read(train[1].AudioPath).Samples);
    }
}
