using System.Text.Json;
using System.Text.Json.Nodes;

namespace PeftSharp.Tokenization;

/// <summary>Reads special-token settings from a model folder's tokenizer_config.json, special_tokens_map.json, config.json and generation_config.json.</summary>
public static class SpecialTokenSettingsReader
{
    /// <summary>
    /// Gathers the special tokens of <paramref name="folder"/>; files that do not exist are skipped, so a bare folder
    /// gives <see cref="SpecialTokenSettings.Empty"/>-like settings.
    /// </summary>
    /// <exception cref="InvalidFileFormatException">One of the files exists but is not valid JSON.</exception>
    public static SpecialTokenSettings Read(string folder)
    {
        var tokConfig = ReadJson(Path.Combine(folder, "tokenizer_config.json"));
        var specialMap = ReadJson(Path.Combine(folder, "special_tokens_map.json"));
        var config = ReadJson(Path.Combine(folder, "config.json"));
        var generation = ReadJson(Path.Combine(folder, "generation_config.json"));

        string? Token(string key) => TokenText(tokConfig?[key]) ?? TokenText(specialMap?[key]);
        // generation_config.json is what generate() uses, so it wins over config.json.
        IReadOnlyList<int> Ids(string key) => IdList(generation?[key]) is { Count: > 0 } g ? g : IdList(config?[key]);

        return new SpecialTokenSettings
        {
            BosToken = Token("bos_token"),
            EosToken = Token("eos_token"),
            PadToken = Token("pad_token"),
            UnkToken = Token("unk_token"),
            BosId = Ids("bos_token_id") is { Count: > 0 } b ? b[0] : null,
            EosIds = Ids("eos_token_id"),
            PadId = Ids("pad_token_id") is { Count: > 0 } p ? p[0] : null,
            AddBosToken = Flag(tokConfig?["add_bos_token"]),
            AddEosToken = Flag(tokConfig?["add_eos_token"]),
            CleanUpTokenizationSpaces = Flag(tokConfig?["clean_up_tokenization_spaces"]) ?? false,
        };
    }

    /// <summary>The file's top-level object; null when the file is absent. Malformed files throw <see cref="InvalidFileFormatException"/>.</summary>
    private static JsonObject? ReadJson(string path)
    {
        if (!File.Exists(path)) return null;
        var json = JsonReading.ParseFile(path);
        return json.ValueKind == JsonValueKind.Object ? JsonObject.Create(json)
            : throw new InvalidFileFormatException(path, $"expected a JSON object at the top level, found {json.ValueKind}");
    }

    // A token is "text" or {"content": "text", ...} (AddedToken serialized).
    private static string? TokenText(JsonNode? node) => node switch
    {
        JsonValue v when v.TryGetValue(out string? s) => s,
        JsonObject o => o["content"] is JsonValue c && c.TryGetValue(out string? s) ? s : null,
        _ => null,
    };

    private static List<int> IdList(JsonNode? node) => node switch
    {
        JsonValue v when v.TryGetValue(out int i) => [i],
        JsonArray a => a.OfType<JsonValue>().Select(x => x.TryGetValue(out int i) ? (int?)i : null).OfType<int>().ToList(),
        _ => [],
    };

    private static bool? Flag(JsonNode? node) => node is JsonValue v && v.TryGetValue(out bool b) ? b : null;
}
