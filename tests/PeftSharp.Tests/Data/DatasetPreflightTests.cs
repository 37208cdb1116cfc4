using PeftSharp.Data;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Data;

public sealed class DatasetPreflightTests
{
    [Fact]
    public void An_empty_data_file_is_refused_also_behind_a_symlink()
    {
        using var tmp = Fixtures.NewTempDir();
        var empty = Path.Combine(tmp.Path, "empty.jsonl");
        File.WriteAllText(empty, "");
        var link = Path.Combine(tmp.Path, "link.jsonl");
        File.CreateSymbolicLink(link, empty); // as in a Hugging Face snapshot: the link itself has a non-zero length
        foreach (var path in new[] { empty, link })
        {
            var e = Assert.Throws<ConfigurationException>(() => DatasetPreflight.CheckFile(path, "datasets[0].path"));
            Assert.Contains("is empty", e.Message);
        }
        File.WriteAllText(empty, "{\"text\": \"hello\"}\n");
        DatasetPreflight.CheckFile(link, "datasets[0].path"); // a linked file with content passes
    }
}
