using PeftSharp.Data;
using PeftSharp.Tests.Reliability.Fuzz;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Reliability;

/// <summary>
/// Parquet is not fuzzed (Parquet.Net 6.1 spins forever on some corrupt page headers), but what our reader checks
/// itself is: every truncation, bad magic, an impossible footer length, and corrupt footers Parquet.Net throws on.
/// </summary>
public class ParquetFramingTests
{
    [Fact]
    public void Every_truncation_of_a_parquet_file_is_an_invalid_file()
    {
        using var dir = Fixtures.NewTempDir();
        string path = dir.File("data.parquet");
        foreach (var seed in BinarySeeds.ParquetFiles())
        {
            File.WriteAllBytes(path, seed);
            FuzzFormats.ReadDataset(path, 0, new ReaderOptions());
            for (int length = 0; length < seed.Length; length++)
            {
                File.WriteAllBytes(path, seed[..length]);
                Assert.Throws<InvalidFileFormatException>(() => FuzzFormats.ReadDataset(path, 0, new ReaderOptions()));
            }
        }
    }

    [Theory]
    [InlineData("head", "does not start with the Parquet magic")]
    [InlineData("tail", "does not end with the Parquet magic")]
    [InlineData("huge footer", "footer length 4294967295 does not fit")]
    [InlineData("zero footer", "footer length 0 does not fit")]
    [InlineData("garbage footer", "not a readable Parquet file")]
    public void Broken_framing_names_the_problem(string damage, string expected)
    {
        var bytes = BinarySeeds.ParquetFiles()[0];
        int n = bytes.Length;
        switch (damage)
        {
            case "head": bytes[0] = (byte)'X'; break;
            case "tail": bytes[^1] = (byte)'X'; break;
            case "huge footer": bytes.AsSpan(n - 8, 4).Fill(0xFF); break;
            case "zero footer": bytes.AsSpan(n - 8, 4).Clear(); break;
            default:
                int footer = BitConverter.ToInt32(bytes, n - 8);
                bytes.AsSpan(n - 8 - footer, footer).Fill(0xFF);
                break;
        }
        using var dir = Fixtures.NewTempDir();
        string path = dir.File("data.parquet");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidFileFormatException>(() => FuzzFormats.ReadDataset(path, 0, new ReaderOptions()));
        Assert.Contains(expected, e.Message);
        Assert.Contains(path, e.Message);
    }
}
