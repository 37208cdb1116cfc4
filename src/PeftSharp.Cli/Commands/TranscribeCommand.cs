using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using PeftSharp.Audio;
using PeftSharp.Data.Speech;
using PeftSharp.Generation.Whisper;
using PeftSharp.Models.Whisper;
using PeftSharp.Tokenization.Whisper;
using static TorchSharp.torch;

namespace PeftSharp.Cli.Commands;

/// <summary>`peftsharp transcribe`: speech to text with a Whisper model (optionally with a PEFT adapter).</summary>
internal static class TranscribeCommand
{
    public static Command Create(TextWriter stdout)
    {
        var modelOptions = new ModelOptions();
        var threads = CommonOptions.Threads();
        var audio = new Option<string[]>("--audio") { Description = "WAV file(s) to transcribe (any rate, mono or stereo); repeat or list several", Required = true, AllowMultipleArgumentsPerToken = true };
        var language = new Option<string?>("--language", "-l") { Description = "Spoken language (code or name, e.g. en, german); default: detected per file on multilingual models" };
        var task = new Option<string>("--task") { Description = "transcribe (write the spoken language) or translate (write English)", DefaultValueFactory = _ => "transcribe" };
        var beamSize = new Option<int?>("--beam-size") { Description = "Beam search with N beams (default: greedy)" };
        var maxNew = new Option<int?>("--max-new-tokens", "-n") { Description = "Tokens to decode per file (default: 224, half the decoder's positions)" };
        var batchSize = new Option<int>("--batch-size") { Description = "Files decoded together", DefaultValueFactory = _ => 8 };
        var json = new Option<bool>("--json") { Description = "Print a JSON array of {path, text, language, tokens} instead of 'path: text' lines" };
        var cmd = new Command("transcribe", "Transcribe or translate speech with a Whisper model") { threads, audio, language, task, beamSize, maxNew, batchSize, json };
        modelOptions.AddTo(cmd);
        cmd.SetAction(r =>
        {
            CommonOptions.ApplyThreads(r.GetValue(threads));
            var files = r.GetValue(audio)!;
            int batch = r.GetValue(batchSize);
            if (batch < 1) throw new ConfigurationException($"--batch-size must be at least 1, found {batch}");
            var options = new WhisperDecodingOptions
            {
                Language = r.GetValue(language),
                Task = ParseTask(r.GetValue(task)!),
                BeamSize = r.GetValue(beamSize),
                MaxNewTokens = r.GetValue(maxNew),
            }.Validate();
            // Every file is decoded once up front, so a missing or unreadable one fails before the model loads,
            // not after the batches before it were transcribed.
            foreach (var f in files)
            {
                if (!File.Exists(f)) throw new ConfigurationException($"audio file '{f}' not found: pass existing WAV files with --audio");
                try { WavReader.Read(f); }
                catch (InvalidFileFormatException e) { throw new ConfigurationException($"{e.Message}: {AsrManifestReader.ConvertHint}"); }
            }
            using var whisper = modelOptions.LoadWhisper(r);
            var generator = whisper.NewGenerator();
            var results = new List<(string Path, WhisperTranscription T)>();
            foreach (var chunk in files.Chunk(batch))
            {
                using var scope = NewDisposeScope();
                var features = stack(chunk.Select(whisper.Features).ToArray());
                var decoded = generator.Generate(features, options);
                for (int i = 0; i < chunk.Length; i++)
                {
                    results.Add((chunk[i], decoded[i]));
                    if (!r.GetValue(json)) stdout.WriteLine($"{chunk[i]}: {decoded[i].Text}");
                }
            }
            if (r.GetValue(json))
            {
                var array = new JsonArray(results.Select(x => (JsonNode)new JsonObject
                {
                    ["path"] = x.Path,
                    ["text"] = x.T.Text,
                    ["language"] = x.T.Language,
                    ["tokens"] = new JsonArray(x.T.Tokens.Select(t => (JsonNode)t).ToArray()),
                }).ToArray());
                stdout.WriteLine(array.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            }
            return 0;
        });
        return cmd;
    }

    internal static WhisperTask ParseTask(string task) => task.ToLowerInvariant() switch
    {
        "transcribe" => WhisperTask.Transcribe,
        "translate" => WhisperTask.Translate,
        _ => throw new ConfigurationException($"--task must be transcribe or translate, found '{task}'"),
    };
}
