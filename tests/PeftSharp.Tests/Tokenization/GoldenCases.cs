using PeftSharp.Tests.Support;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace PeftSharp.Tests.Tokenization;

/// <summary>One reference encoding from tools/golden/make_golden.py.</summary>
public sealed record GoldenCase(
    [property: JsonPropertyName("text")] string Text,
    [property: JsonPropertyName("ids")] int[] Ids,
    [property: JsonPropertyName("ids_with_special")] int[] IdsWithSpecial,
    [property: JsonPropertyName("decoded")] string Decoded);

internal static class GoldenCases
{
    public static GoldenCase[] Load(string folder) =>
        JsonSerializer.Deserialize<GoldenCase[]>(File.ReadAllText(Fixtures.Golden("tokenizers", folder, "cases.json")))
            ?? throw new InvalidDataException($"{folder}/cases.json is empty");

    /// <summary>Theory rows: folder and case index, so each case reports on its own.</summary>
    public static TheoryData<string, int> Rows(params string[] folders)
    {
        var data = new TheoryData<string, int>();
        foreach (var folder in folders)
            for (int i = 0; i < Load(folder).Length; i++) data.Add(folder, i);
        return data;
    }
}
