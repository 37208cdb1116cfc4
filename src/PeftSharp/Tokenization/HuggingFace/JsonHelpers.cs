using System.Text.Json.Nodes;

namespace PeftSharp.Tokenization.HuggingFace;

/// <summary>Reads tokenizer.json fields with errors that name the file and the key.</summary>
internal static class JsonHelpers
{
    public static string TypeOf(JsonNode node, string file, string what) =>
        node["type"]?.GetValue<string>() ?? throw new InvalidFileFormatException(file, $"{what} has no \"type\"");

    public static string? Str(JsonNode? node, string key) =>
        node?[key] is JsonValue v && v.TryGetValue(out string? s) ? s : null;

    public static bool Bool(JsonNode? node, string key, bool fallback) =>
        node?[key] is JsonValue v && v.TryGetValue(out bool b) ? b : fallback;

    public static int Int(JsonNode? node, string key, int fallback) =>
        node?[key] is JsonValue v && v.TryGetValue(out int i) ? i : fallback;

    /// <summary>HF patterns are {"String": literal} or {"Regex": pattern}; returns a .NET regex pattern.</summary>
    public static string Pattern(JsonNode? pattern, string file, string what)
    {
        if (Str(pattern, "String") is { } literal) return System.Text.RegularExpressions.Regex.Escape(literal);
        if (Str(pattern, "Regex") is { } regex) return regex;
        throw new InvalidFileFormatException(file, $"{what} needs a pattern {{\"String\": ...}} or {{\"Regex\": ...}}");
    }

    public static IEnumerable<JsonNode> Items(JsonNode? node, string key, string file, string what) =>
        (node?[key] as JsonArray ?? throw new InvalidFileFormatException(file, $"{what} needs an array \"{key}\""))
            .Select(n => n ?? throw new InvalidFileFormatException(file, $"{what}: null entry in \"{key}\""));
}
