using System.Text.Json;

namespace PeftSharp;

/// <summary>Typed reads from a JSON object that name the file and key when a value has the wrong type.</summary>
public sealed class JsonReading
{
    readonly JsonElement root;
    public string Source { get; }

    public JsonReading(JsonElement root, string source)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw new InvalidFileFormatException(source, $"expected a JSON object at the top level, found {root.ValueKind}");
        this.root = root;
        Source = source;
    }

    public static JsonReading FromFile(string path)
    {
        if (!File.Exists(path)) throw new PeftSharpException($"{path} not found");
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            return new JsonReading(doc.RootElement.Clone(), path);
        }
        catch (JsonException e)
        {
            throw new InvalidFileFormatException(path, $"invalid JSON ({e.Message})", e);
        }
    }

    public JsonElement Root => root;
    public bool Has(string key) => root.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null;

    public JsonReading? Object(string key) =>
        root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Object ? new JsonReading(v, $"{Source} [{key}]") : null;

    public int Int(string key, int fallback) => Has(key) ? RequireInt(key) : fallback;
    public int RequireInt(string key)
    {
        var v = Get(key);
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i)) return i;
        throw Wrong(key, "an integer", v);
    }

    public double Double(string key, double fallback)
    {
        if (!Has(key)) return fallback;
        var v = Get(key);
        if (v.ValueKind == JsonValueKind.Number) return v.GetDouble();
        throw Wrong(key, "a number", v);
    }

    public bool Bool(string key, bool fallback)
    {
        if (!Has(key)) return fallback;
        var v = Get(key);
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Wrong(key, "true or false", v),
        };
    }

    public string? String(string key)
    {
        if (!Has(key)) return null;
        var v = Get(key);
        if (v.ValueKind == JsonValueKind.String) return v.GetString();
        throw Wrong(key, "a string", v);
    }

    /// <summary>An int or a list of ints (e.g. eos_token_id), as a list.</summary>
    public IReadOnlyList<int> Ints(string key)
    {
        if (!Has(key)) return Array.Empty<int>();
        var v = Get(key);
        if (v.ValueKind == JsonValueKind.Number) return new[] { RequireInt(key) };
        if (v.ValueKind == JsonValueKind.Array)
        {
            var list = new List<int>();
            foreach (var e in v.EnumerateArray())
            {
                if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out var i)) throw Wrong(key, "a list of integers", v);
                list.Add(i);
            }
            return list;
        }
        throw Wrong(key, "an integer or a list of integers", v);
    }

    JsonElement Get(string key) =>
        root.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null
            ? v
            : throw new InvalidFileFormatException(Source, $"required field '{key}' is missing");

    InvalidFileFormatException Wrong(string key, string expected, JsonElement found) =>
        new(Source, $"'{key}' must be {expected}, found {found.ValueKind} {Truncate(found.GetRawText())}");

    static string Truncate(string s) => s.Length > 60 ? s[..60] + "..." : s;
}
