using System.Text.Json;

namespace PeftSharp;

/// <summary>Typed reads from a JSON object that name the file and key when a value has the wrong type.</summary>
public sealed class JsonReading
{
    readonly JsonElement root;
    /// <summary>
    /// Where the object came from, used in error messages: a file path, with <c>[key]</c> appended for nested objects.
    /// </summary>
    public string Source { get; }

    /// <summary>Wraps an already parsed JSON object.</summary>
    /// <param name="root">The object to read; must be a JSON object.</param>
    /// <param name="source">Name for messages, usually the file path.</param>
    /// <exception cref="InvalidFileFormatException"><paramref name="root"/> is not a JSON object.</exception>
    public JsonReading(JsonElement root, string source)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw new InvalidFileFormatException(source, $"expected a JSON object at the top level, found {root.ValueKind}");
        this.root = root;
        Source = source;
    }

    /// <summary>
    /// Reads a JSON config file (comments and trailing commas allowed); throws <see cref="InvalidFileFormatException"/>
    /// when it is not valid JSON, repeats a key, or holds a string that is not text (see <see cref="ParseFile"/>).
    /// </summary>
    public static JsonReading FromFile(string path) => new(ParseFile(path), path);

    static readonly JsonDocumentOptions FileOptions = new()
    {
        AllowTrailingCommas = true,
        CommentHandling = JsonCommentHandling.Skip,
        // Python's json keeps the last of repeated keys, .NET lookups the first: refuse rather than guess.
        AllowDuplicateProperties = false,
    };

    /// <summary>
    /// The whole of a JSON file, checked so that reading any value afterwards cannot fail on the text itself: valid JSON,
    /// no key repeated in an object, every string and key readable as text. Throws <see cref="PeftSharpException"/> when
    /// the file is missing and <see cref="InvalidFileFormatException"/> naming the problem otherwise.
    /// </summary>
    public static JsonElement ParseFile(string path)
    {
        if (!File.Exists(path)) throw new PeftSharpException($"{path} not found");
        JsonElement root;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path), FileOptions);
            root = doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new InvalidFileFormatException(path, $"not valid JSON ({e.Message})", e);
        }
        if (FirstUnreadableString(root) is { } where)
            throw new InvalidFileFormatException(path, $"the string at {where} is not valid text (invalid UTF-8, or an escaped lone "
                + "UTF-16 surrogate such as \\ud800); save the file as UTF-8");
        return root;
    }

    /// <summary>
    /// Where the first string or key that cannot be read as text is (invalid UTF-8 or an escaped lone surrogate), as a
    /// path such as <c>$.id2label["0"]</c>; null when all read. System.Text.Json checks these only when a string is read,
    /// and then throws InvalidOperationException, so untrusted documents are checked once, up front.
    /// </summary>
    public static string? FirstUnreadableString(JsonElement element, string path = "$")
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                return Readable(() => element.GetString()) ? null : path;
            case JsonValueKind.Array:
                int i = 0;
                foreach (var item in element.EnumerateArray())
                    if (FirstUnreadableString(item, $"{path}[{i++}]") is { } bad) return bad;
                return null;
            case JsonValueKind.Object:
                int index = 0;
                foreach (var p in element.EnumerateObject())
                {
                    string? name = null;
                    if (!Readable(() => name = p.Name)) return $"{path} (key number {index + 1})";
                    if (FirstUnreadableString(p.Value, $"{path}[{JsonSerializer.Serialize(name)}]") is { } bad) return bad;
                    index++;
                }
                return null;
            default:
                return null;
        }
    }

    static bool Readable(Func<string?> read)
    {
        try
        {
            read();
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>
    /// The underlying JSON object, for reads the typed helpers do not cover (arrays of objects, maps).
    /// </summary>
    public JsonElement Root => root;
    /// <summary>
    /// Whether <paramref name="key"/> is present with a non-null value (Python's <c>None</c> and a missing key count
    /// alike).
    /// </summary>
    public bool Has(string key) => root.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null;

    /// <summary>
    /// The nested object at <paramref name="key"/> (its <see cref="Source"/> names the key), or null when the key is
    /// missing or not an object.
    /// </summary>
    public JsonReading? Object(string key) =>
        root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Object ? new JsonReading(v, $"{Source} [{key}]") : null;

    /// <summary>
    /// The 32-bit integer at <paramref name="key"/>, or <paramref name="fallback"/> when it is missing or null.
    /// </summary>
    /// <exception cref="InvalidFileFormatException">The value is present but not an integer that fits in 32
    /// bits.</exception>
    public int Int(string key, int fallback) => Has(key) ? RequireInt(key) : fallback;
    /// <summary>The 32-bit integer at <paramref name="key"/>, which must be present.</summary>
    /// <exception cref="InvalidFileFormatException">The key is missing or null, or the value is not an integer that
    /// fits in 32 bits.</exception>
    public int RequireInt(string key)
    {
        var v = Get(key);
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i)) return i;
        throw Wrong(key, "an integer", v);
    }

    /// <summary>
    /// The number at <paramref name="key"/> (integers accepted), or <paramref name="fallback"/> when it is missing or
    /// null.
    /// </summary>
    /// <exception cref="InvalidFileFormatException">The value is present but not a number (a quoted "1e-4" is refused,
    /// not parsed).</exception>
    public double Double(string key, double fallback)
    {
        if (!Has(key)) return fallback;
        var v = Get(key);
        if (v.ValueKind == JsonValueKind.Number) return v.GetDouble();
        throw Wrong(key, "a number", v);
    }

    /// <summary>
    /// The boolean at <paramref name="key"/>, or <paramref name="fallback"/> when it is missing or null.
    /// </summary>
    /// <exception cref="InvalidFileFormatException">The value is present but not <c>true</c> or <c>false</c> (0/1 and
    /// "true" are refused).</exception>
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

    /// <summary>The string at <paramref name="key"/>, or null when it is missing or null.</summary>
    /// <exception cref="InvalidFileFormatException">The value is present but not a string.</exception>
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
