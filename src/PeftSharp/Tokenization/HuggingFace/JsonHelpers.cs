using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace PeftSharp.Tokenization.HuggingFace;

/// <summary>
/// Reads tokenizer.json fields with errors that name the file and the key. Every read tolerates a node of the wrong
/// JSON type (a lookup in a non-object finds nothing), so a malformed file ends in <see cref="InvalidFileFormatException"/>
/// rather than in System.Text.Json's InvalidOperationException.
/// </summary>
internal static class JsonHelpers
{
    /// <summary>The value of <paramref name="key"/> when <paramref name="node"/> is an object that has it, else null.</summary>
    public static JsonNode? Get(JsonNode? node, string key) => node is JsonObject o ? o[key] : null;

    public static string TypeOf(JsonNode node, string file, string what) =>
        Str(node, "type") ?? throw new InvalidFileFormatException(file, $"{what} has no \"type\" string");

    public static string? Str(JsonNode? node, string key) =>
        Get(node, key) is JsonValue v && v.TryGetValue(out string? s) ? s : null;

    public static bool Bool(JsonNode? node, string key, bool fallback) =>
        Get(node, key) is JsonValue v && v.TryGetValue(out bool b) ? b : fallback;

    public static int Int(JsonNode? node, string key, int fallback) =>
        Get(node, key) is JsonValue v && v.TryGetValue(out int i) ? i : fallback;

    /// <summary>A token id: an integer from 0 to int.MaxValue - 1 (so a vocabulary size still fits an int).</summary>
    public static int Id(JsonNode? node, string file, string what) =>
        node is JsonValue v && v.TryGetValue(out int id) && id is >= 0 and < int.MaxValue ? id
            : throw new InvalidFileFormatException(file, $"{what} must be a token id (an integer from 0 to {int.MaxValue - 1}), found {Describe(node)}");

    /// <summary>HF patterns are {"String": literal} or {"Regex": pattern}; returns a .NET regex pattern.</summary>
    private static string Pattern(JsonNode? pattern, string file, string what)
    {
        if (Str(pattern, "String") is { } literal) return Regex.Escape(literal);
        if (Str(pattern, "Regex") is { } regex) return regex;
        throw new InvalidFileFormatException(file, $"{what} needs a pattern {{\"String\": ...}} or {{\"Regex\": ...}}");
    }

    /// <summary>
    /// The node's "pattern" compiled; one .NET cannot parse is a malformed file, not an ArgumentException. A Replace step
    /// (<paramref name="replaces"/>) may not have an empty pattern: it would insert its content between every character.
    /// </summary>
    public static Regex PatternRegex(JsonNode node, bool replaces, RegexOptions options, string file, string what)
    {
        string pattern = Pattern(Get(node, "pattern"), file, what);
        if (replaces && pattern.Length == 0)
            throw new InvalidFileFormatException(file, $"{what} has an empty pattern, which matches between every two characters; give the text to replace");
        try { return new Regex(pattern, options | RegexOptions.CultureInvariant); }
        catch (ArgumentException e)
        {
            throw new InvalidFileFormatException(file, $"{what}: pattern {Describe(JsonValue.Create(pattern))} is not a regular expression .NET can run ({e.Message})", e);
        }
    }

    public static IEnumerable<JsonNode> Items(JsonNode? node, string key, string file, string what) =>
        (Get(node, key) as JsonArray ?? throw new InvalidFileFormatException(file, $"{what} needs an array \"{key}\""))
            .Select(n => n ?? throw new InvalidFileFormatException(file, $"{what}: null entry in \"{key}\""));

    /// <summary>A node's JSON text for a message, cut short.</summary>
    public static string Describe(JsonNode? node)
    {
        string text = node?.ToJsonString() ?? "null";
        return text.Length > 80 ? text[..80] + "..." : text;
    }
}
