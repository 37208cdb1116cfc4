using System.Text.Json;
using PeftSharp.Adapters.Lora;
using PeftSharp.Models.Whisper;
using PeftSharp.Peft;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Models;

/// <summary>`peftsharp transcribe` end to end on a tiny random Whisper folder and jfk.wav (the words are noise; the shape is checked).</summary>
public class WhisperCliTests
{
    [Fact]
    public void Transcribe_prints_one_line_per_file_and_json_on_request()
    {
        string wav = Fixtures.Require("audio", "jfk.wav");
        using var dir = Fixtures.NewTempDir();
        using (var model = TinyWhisper.Random(seed: 31)) TinyWhisper.WriteFolder(dir.File("model"), model);

        var plain = CliRunner.Run("transcribe", "--model", dir.File("model"), "--audio", wav, wav, "--language", "en", "--max-new-tokens", "8", "--batch-size", "1");
        Assert.True(plain.ExitCode == 0, plain.Err);
        var lines = plain.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.All(lines, l => Assert.StartsWith(wav + ": ", l));
        Assert.Equal(lines[0], lines[1]); // the same file decodes the same in separate batches

        var json = CliRunner.Run("transcribe", "--model", dir.File("model"), "--audio", wav, "--task", "translate", "--beam-size", "2", "--max-new-tokens", "5", "--json");
        Assert.True(json.ExitCode == 0, json.Err);
        using var doc = JsonDocument.Parse(json.Out);
        var item = Assert.Single(doc.RootElement.EnumerateArray().ToList());
        Assert.Equal(wav, item.GetProperty("path").GetString());
        Assert.InRange(item.GetProperty("tokens").GetArrayLength(), 0, 5);
        Assert.Equal(JsonValueKind.String, item.GetProperty("language").ValueKind); // detected: no --language given
        Assert.Equal(JsonValueKind.String, item.GetProperty("text").ValueKind);
    }

    [Fact]
    public void Transcribe_applies_an_adapter_and_reports_bad_arguments()
    {
        string wav = Fixtures.Require("audio", "jfk.wav");
        using var dir = Fixtures.NewTempDir();
        using (var model = TinyWhisper.Random(seed: 32))
        {
            TinyWhisper.WriteFolder(dir.File("model"), model);
            var peft = PeftModel.Create(model, new LoraConfig { R = 2, TargetModules = new[] { "q_proj", "v_proj" }, InitLoraWeights = "false" }, seed: 2);
            AdapterFolder.Save(peft, dir.File("adapter"));
        }
        var adapted = CliRunner.Run("transcribe", "--model", dir.File("model"), "--audio", wav, "--language", "en", "--max-new-tokens", "4", "--adapter", dir.File("adapter"));
        Assert.True(adapted.ExitCode == 0, adapted.Err);
        Assert.StartsWith(wav + ": ", adapted.Out);

        var missing = CliRunner.Run("transcribe", "--model", dir.File("model"), "--audio", dir.File("nope.wav"));
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("nope.wav", missing.Err);
        var task = CliRunner.Run("transcribe", "--model", dir.File("model"), "--audio", wav, "--task", "summarize");
        Assert.Equal(1, task.ExitCode);
        Assert.Contains("--task must be transcribe or translate", task.Err);
        var tooLong = CliRunner.Run("transcribe", "--model", dir.File("model"), "--audio", wav, "--language", "en", "--max-new-tokens", "1000");
        Assert.Equal(1, tooLong.ExitCode);
        Assert.Contains("max_target_positions", tooLong.Err);
    }
}
