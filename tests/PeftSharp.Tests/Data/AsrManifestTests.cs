using PeftSharp.Data;
using PeftSharp.Data.Speech;
using PeftSharp.Tests.Support;
using static PeftSharp.Tests.Data.AsrTestClips;

namespace PeftSharp.Tests.Data;

public class AsrManifestTests
{
    [Fact]
    public void Relative_paths_resolve_against_the_manifest_folder_and_absolute_ones_stay()
    {
        using var dir = Fixtures.NewTempDir();
        Tone(dir.File("clips/a.wav"), 440, seconds: 0.5);
        string elsewhere = Tone(Path.Combine(dir.Path, "other", "b.wav"), 660, seconds: 1.25, rate: 16000);
        Directory.CreateDirectory(dir.File("meta"));
        var path = Manifest(dir.File("meta/train.jsonl"),
            Row("../clips/a.wav", "  first clip  ", "de"),
            Row(elsewhere, "second clip"));

        var manifest = AsrManifestReader.Read(path);

        Assert.Equal(2, manifest.Examples.Count);
        var (a, b) = (manifest.Examples[0], manifest.Examples[1]);
        Assert.Equal(dir.File("clips/a.wav"), a.AudioPath);
        Assert.Equal(elsewhere, b.AudioPath);
        Assert.Equal("  first clip  ", a.Text);            // trimming is the label builder's business
        Assert.Equal("de", a.Language);
        Assert.Null(b.Language);
        Assert.Equal(0.5, a.DurationSeconds, 3);
        Assert.Equal(1.25, b.DurationSeconds, 3);
        Assert.Equal($"{path}:1", a.Location);
        Assert.Equal($"{path}:2", b.Location);
        Assert.Equal(1.75, manifest.TotalSeconds, 3);
        Assert.Equal(0, manifest.Skipped);
    }

    [Fact]
    public void Csv_with_custom_field_names_and_hugging_face_audio_objects_are_read()
    {
        using var dir = Fixtures.NewTempDir();
        Tone(dir.File("x.wav"), 300);
        var csv = dir.File("m.csv");
        File.WriteAllText(csv, "file,sentence,locale\nx.wav,\"hello, world\",fr\nx.wav,again,\n");
        var options = new AsrManifestOptions { AudioField = "file", TextField = "sentence", LanguageField = "locale" };

        var rows = AsrManifestReader.Read(csv, options).Examples;

        Assert.Equal(["hello, world", "again"], rows.Select(r => r.Text));
        Assert.Equal(["fr", null], rows.Select(r => r.Language));
        Assert.All(rows, r => Assert.Equal(dir.File("x.wav"), r.AudioPath));

        var jsonl = Manifest(dir.File("hf.jsonl"), "{\"audio\": {\"path\": \"x.wav\", \"sampling_rate\": 22050}, \"text\": \"hi\"}");
        Assert.Equal(dir.File("x.wav"), Assert.Single(AsrManifestReader.Read(jsonl).Examples).AudioPath);
    }

    /// <summary>One bad row per case, after a good first row; (row, reason the skip is counted under).</summary>
    public static TheoryData<string, string> BadRows => new()
    {
        { "{\"text\": \"no audio\"}", "missing field 'audio'" },
        { "{\"audio\": 5, \"text\": \"audio is a number\"}", "missing field 'audio'" },
        { "{\"audio\": \"good.wav\"}", "missing field 'text'" },
        { "{\"audio\": \"good.wav\", \"text\": \"   \"}", "empty text" },
        { "{\"audio\": \"missing.wav\", \"text\": \"gone\"}", "audio file not found" },
        { "{\"audio\": \"garbage.wav\", \"text\": \"not a wav\"}", "unreadable WAV" },
        { "{\"audio\": \"silent.wav\", \"text\": \"no samples\"}", "empty audio" },
        { "{\"audio\": \"long.wav\", \"text\": \"too long\"}", "audio too long" },
    };

    static string WriteCase(TempDir dir, string badRow)
    {
        Tone(dir.File("good.wav"), 440);
        Tone(dir.File("long.wav"), 440, seconds: 31, rate: 8000);
        Tone(dir.File("silent.wav"), 440, seconds: 0);
        File.WriteAllText(dir.File("garbage.wav"), "this is not a RIFF file at all");
        return Manifest(dir.File("m.jsonl"), Row("good.wav", "fine"), badRow);
    }

    [Theory]
    [MemberData(nameof(BadRows))]
    public void A_bad_row_is_skipped_with_its_location_and_reason(string badRow, string reason)
    {
        using var dir = Fixtures.NewTempDir();
        var path = WriteCase(dir, badRow);
        var warnings = new List<string>();

        AsrManifest manifest;
        using (Diagnostics.RedirectWarnings(warnings.Add)) manifest = AsrManifestReader.Read(path);

        Assert.Equal("fine", Assert.Single(manifest.Examples).Text);
        Assert.Equal(2, manifest.RecordsRead);
        Assert.Equal(1, manifest.Skipped);
        Assert.Equal(1, manifest.SkippedByReason[reason]);
        Assert.Contains($"{path}:2: {reason}", Assert.Single(warnings));
    }

    [Theory]
    [MemberData(nameof(BadRows))]
    public void A_bad_row_under_on_error_fail_throws_naming_file_line_and_fix(string badRow, string reason)
    {
        using var dir = Fixtures.NewTempDir();
        var path = WriteCase(dir, badRow);

        var e = Assert.Throws<InvalidFileFormatException>(() => AsrManifestReader.Read(path, new AsrManifestOptions { OnError = OnError.Fail }));

        Assert.Contains($"{path}: line 2: {reason}", e.Message);
        Assert.Contains("on_error: skip", e.Message);
    }

    [Fact]
    public void Missing_file_error_names_the_resolved_path()
    {
        using var dir = Fixtures.NewTempDir();
        var path = Manifest(dir.File("m.jsonl"), Row("sub/missing.wav", "gone"));
        var e = Assert.Throws<InvalidFileFormatException>(() => AsrManifestReader.Read(path, new AsrManifestOptions { OnError = OnError.Fail }));
        Assert.Contains(dir.File("sub/missing.wav"), e.Message);
        Assert.Contains("relative paths are resolved against the manifest's folder", e.Message);
    }

    [Fact]
    public void A_manifest_with_no_usable_row_is_a_configuration_error_naming_file_reasons_and_fix()
    {
        using var dir = Fixtures.NewTempDir();
        var path = Manifest(dir.File("m.jsonl"), "{\"path\": \"a.wav\", \"sentence\": \"wrong names\"}", Row("nope.wav", "gone"));

        ConfigurationException e;
        using (Diagnostics.RedirectWarnings(_ => { })) e = Assert.Throws<ConfigurationException>(() => AsrManifestReader.Read(path));

        string[] expected = [$"'{path}'", "2 read, 2 skipped", "1 missing field 'audio'", "1 audio file not found", "set the audio/text field names"];
        Assert.All(expected, part => Assert.Contains(part, e.Message));
    }

    [Fact]
    public void A_missing_manifest_is_a_configuration_error()
    {
        var e = Assert.Throws<ConfigurationException>(() => AsrManifestReader.Read("/nonexistent/train.jsonl"));
        Assert.Contains("/nonexistent/train.jsonl", e.Message);
    }
}
