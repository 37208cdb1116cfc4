using System.Collections;
using System.Globalization;
using System.Reflection;
using PeftSharp.Cli.Config;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Cli;

/// <summary>docs/reference/config.md cannot drift: its keys are the reader's, its defaults the reader's defaults.</summary>
public class ConfigReferenceTests
{
    [Fact]
    public void The_reference_lists_exactly_the_keys_the_reader_reads()
    {
        var read = ConfigReference.KeysTheReaderReads();
        var documented = ConfigReference.All.Select(k => k.Key).ToList();
        Assert.Equal(documented.Count, documented.Distinct().Count());
        Assert.Empty(read.Except(documented));     // read but undocumented
        Assert.Empty(documented.Except(read));     // documented but never read
        Assert.True(read.Count > 100, $"only {read.Count} keys recorded: the recorder missed sections");
    }

    public static TheoryData<string> KeysWithDefaults() => new(ConfigReference.All.Where(k => k.Default is not null).Select(k => k.Key));

    [Theory]
    [MemberData(nameof(KeysWithDefaults))]
    public void A_documented_default_is_the_value_the_reader_applies(string key)
    {
        var entry = ConfigReference.All.Single(k => k.Key == key);
        // Keys of one task or method are compared in a sample of that task or method.
        var sample = SamplesReading(key).First(yaml =>
        {
            try { Read(yaml, key, entry.Default!); return true; }
            catch (ConfigurationException) { return false; }
        });
        Assert.Equal(Dump(Read(sample)), Dump(Read(sample, key, entry.Default!)));
    }

    [Fact]
    public void The_default_check_sees_a_changed_value()
    {
        var sample = SamplesReading("lora.r").First();
        Assert.NotEqual(Dump(Read(sample)), Dump(Read(sample, "lora.r", "9")));
        Assert.NotEqual(Dump(Read(sample)), Dump(Read(sample, "datasets[].text_field", "body")));
    }

    [Fact]
    public void The_committed_reference_is_the_generated_one()
    {
        var file = Path.Combine(Fixtures.RepoRoot, "docs", "reference", "config.md");
        Assert.True(File.Exists(file), $"{file} is missing: run ./peftsharp config-reference > docs/reference/config.md");
        Assert.True(File.ReadAllText(file) == ConfigReference.Markdown(),
            "docs/reference/config.md is out of date: run ./peftsharp config-reference > docs/reference/config.md");
    }

    [Fact]
    public void The_cli_prints_the_reference()
    {
        var r = CliRunner.Run("config-reference");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("| `lora.r` | `8` |", r.Out);
    }

    /// <summary>The sample configs whose reading asks for the key.</summary>
    static IEnumerable<string> SamplesReading(string key)
    {
        foreach (var yaml in ConfigReference.SampleConfigs())
        {
            var keys = new HashSet<string>();
            ConfigSection.KeysRead.Value = keys;
            try { TrainConfig.Read(ConfigSection.FromYaml(yaml, "sample.yaml")); }
            finally { ConfigSection.KeysRead.Value = null; }
            if (keys.Contains(key)) yield return yaml;
        }
    }

    static TrainConfig Read(string yaml, string? key = null, string? value = null)
    {
        if (key is null) return TrainConfig.Read(ConfigSection.FromYaml(yaml, "sample.yaml"));
        if (key.StartsWith("datasets[].", StringComparison.Ordinal))
            return TrainConfig.Read(ConfigSection.FromYaml(
                yaml.Replace("  - path: d.jsonl\n", $"  - path: d.jsonl\n    {key["datasets[].".Length..]}: {value}\n"), "sample.yaml"));
        return TrainConfig.Read(ConfigSection.FromYaml(yaml, "sample.yaml", $"--{key}={value}"));
    }

    /// <summary>Every public property, recursively, as text: two configs that read the same dump the same.</summary>
    static string Dump(object? o) => o switch
    {
        null => "null",
        string s => '"' + s + '"',
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        bool b => b.ToString(),
        IEnumerable e => "[" + string.Join(", ", e.Cast<object?>().Select(Dump)) + "]",
        _ => o.GetType().Name + "{" + string.Join(", ", o.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetIndexParameters().Length == 0 && p.Name != "EqualityContract")
            .Select(p => p.Name + "=" + Dump(p.GetValue(o)))) + "}",
    };
}
