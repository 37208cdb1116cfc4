using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using PeftSharp.Data.Speech;
using PeftSharp.Evaluation;
using PeftSharp.Generation.Whisper;

namespace PeftSharp.Cli.Commands;

/// <summary>`eval --task asr`: transcribes a manifest's clips and reports corpus WER and CER after Whisper's normalisation.</summary>
internal sealed class AsrEval
{
    readonly Option<string?> language = new("--language") { Description = "asr: spoken language forced in the prefix (default: the manifest's, else detected)" };
    readonly Option<int?> beamSize = new("--beam-size") { Description = "asr: beam search with N beams (default: greedy)" };
    readonly Option<bool> noSpaces = new("--cer-without-spaces") { Description = "asr: CER over characters without whitespace (languages written without spaces)" };
    readonly Option<bool> basic = new("--basic-normalizer") { Description = "asr: Whisper's basic (non-English) text normaliser instead of the English one" };

    public AsrEval AddTo(Command command)
    {
        foreach (var o in new Option[] { language, beamSize, noSpaces, basic }) command.Options.Add(o);
        return this;
    }

    public int Run(ParseResult r, ModelOptions model, string manifestPath, int batchSize, string? outputDir, TextWriter stdout)
    {
        var options = new WhisperDecodingOptions { Language = r.GetValue(language), BeamSize = r.GetValue(beamSize) }.Validate();
        // The manifest first: every clip is opened there, so a bad row fails before the model loads.
        var manifest = AsrManifestReader.Read(manifestPath);
        using var whisper = model.LoadWhisper(r);
        var result = AsrEvaluation.Run(whisper.NewGenerator(), manifest.Examples, whisper.MelFilters, options, batchSize,
            r.GetValue(basic) ? WhisperTextNormalizer.Basic : new WhisperTextNormalizer(english: true), r.GetValue(noSpaces));
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"WER {result.Wer:P2} (S {result.Words.Substitutions}, D {result.Words.Deletions}, I {result.Words.Insertions} over {result.Words.ReferenceLength} words), " +
            $"CER {result.Cer:P2} on {manifest.Examples.Count} clips ({result.AudioSeconds:F0} s of audio in {result.Elapsed.TotalSeconds:F1} s, {result.RealTimeFactor:F1}x real time)"));
        if (outputDir is not null) Write(outputDir, manifest, result, stdout);
        return 0;
    }

    static void Write(string dir, AsrManifest manifest, AsrEvalResult result, TextWriter stdout)
    {
        Directory.CreateDirectory(dir);
        var metrics = new JsonObject
        {
            ["wer"] = result.Wer, ["cer"] = result.Cer, ["clips"] = manifest.Examples.Count, ["audio_seconds"] = result.AudioSeconds,
            ["words"] = Counts(result.Words), ["characters"] = Counts(result.Characters),
        };
        var options = new JsonSerializerOptions { WriteIndented = true };
        IO.AtomicFile.WriteAllBytes(Path.Combine(dir, "metrics.json"), System.Text.Encoding.UTF8.GetBytes(metrics.ToJsonString(options)));
        var lines = manifest.Examples.Select((e, i) => new JsonObject { ["audio"] = e.AudioPath, ["reference"] = result.References[i], ["hypothesis"] = result.Hypotheses[i] }.ToJsonString());
        IO.AtomicFile.WriteAllBytes(Path.Combine(dir, "transcripts.jsonl"), System.Text.Encoding.UTF8.GetBytes(string.Join("\n", lines) + "\n"));
        stdout.WriteLine($"wrote {Path.Combine(dir, "metrics.json")} and {Path.Combine(dir, "transcripts.jsonl")}");
    }

    static JsonObject Counts(EditCounts c) => new()
    {
        ["hits"] = c.Hits, ["substitutions"] = c.Substitutions, ["deletions"] = c.Deletions, ["insertions"] = c.Insertions, ["reference_length"] = c.ReferenceLength,
    };
}
