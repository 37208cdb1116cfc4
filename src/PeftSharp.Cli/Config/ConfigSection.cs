using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace PeftSharp.Cli.Config;

/// <summary>
/// A YAML mapping read with typed getters that name the file and key on a wrong type, and that remember which keys
/// were read, so keys nobody reads (typos, options of another tool) are reported with a "did you mean".
/// </summary>
public sealed class ConfigSection
{
    readonly Dictionary<string, YamlNode> values;
    readonly HashSet<string> read = new(StringComparer.Ordinal);
    readonly List<ConfigSection> children = new();
    public string Source { get; }
    public string Path { get; }

    public ConfigSection(YamlMappingNode node, string source, string path)
    {
        Source = source;
        Path = path;
        values = new Dictionary<string, YamlNode>(StringComparer.Ordinal);
        foreach (var (k, v) in node.Children)
        {
            var key = ((YamlScalarNode)k).Value ?? "";
            if (!values.TryAdd(key, v)) throw Error(key, "appears twice: keep one");
        }
    }

    public static ConfigSection Load(string file, IEnumerable<string> overrides)
    {
        if (!File.Exists(file))
            throw new ConfigurationException($"config file {file} not found: pass the path of a YAML training config (see examples/ for some)");
        var stream = new YamlStream();
        try
        {
            using var reader = new StreamReader(file);
            stream.Load(reader);
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            throw InvalidYaml(file, e);
        }
        var root = stream.Documents.Count == 0 ? new YamlMappingNode() : stream.Documents[0].RootNode as YamlMappingNode
            ?? throw new ConfigurationException($"{file}: the top level must be a mapping of keys to values: write one 'key: value' per line (base_model: ..., datasets: ...)");
        foreach (var o in overrides) ApplyOverride(root, o, file);
        return new ConfigSection(root, file, "");
    }

    /// <summary>A config given as YAML text (the reference's sample configs); <paramref name="source"/> names it in errors.</summary>
    public static ConfigSection FromYaml(string yaml, string source, params string[] overrides)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        var root = (YamlMappingNode)stream.Documents[0].RootNode;
        foreach (var o in overrides) ApplyOverride(root, o, source);
        return new ConfigSection(root, source, "");
    }

    static ConfigurationException InvalidYaml(string file, YamlDotNet.Core.YamlException e)
    {
        var where = $"{file}: line {e.Start.Line}, column {e.Start.Column}";
        // YamlDotNet refuses a repeated key itself, before ConfigSection sees the mapping.
        if (e.Message.StartsWith("Duplicate key ", StringComparison.Ordinal))
            return new ConfigurationException($"{where}: '{e.Message["Duplicate key ".Length..].Trim()}' appears twice: keep one");
        return new ConfigurationException(
            $"invalid YAML at line {e.Start.Line}, column {e.Start.Column} of {file} ({e.Message.TrimEnd('.')}): fix the syntax there (indentation, a ':' and a space after each key, closed quotes and brackets)");
    }

    /// <summary>"--a.b=value" (or "a.b=value") sets key b of section a; the value is read as YAML (numbers, true/false, lists).</summary>
    static void ApplyOverride(YamlMappingNode root, string expression, string file)
    {
        var text = expression.StartsWith("--", StringComparison.Ordinal) ? expression[2..] : expression;
        int eq = text.IndexOf('=');
        if (eq <= 0) throw new ConfigurationException($"override '{expression}' has no value: write it as --key=value or --section.key=value");
        var path = text[..eq].Split('.');
        var valueStream = new YamlStream();
        try { valueStream.Load(new StringReader(text[(eq + 1)..].Length == 0 ? "''" : text[(eq + 1)..])); }
        catch (YamlDotNet.Core.YamlException e)
        {
            throw new ConfigurationException($"override '{expression}': the value is not valid YAML ({e.Message.TrimEnd('.')}): quote it, e.g. --key='value'");
        }
        var value = valueStream.Documents[0].RootNode;
        var node = root;
        for (int i = 0; i < path.Length - 1; i++)
        {
            var key = new YamlScalarNode(path[i]);
            if (!node.Children.TryGetValue(key, out var child))
            {
                child = new YamlMappingNode();
                node.Children[key] = child;
            }
            node = child as YamlMappingNode ?? throw new ConfigurationException($"override '{expression}': '{path[i]}' in {file} is not a section");
        }
        node.Children[new YamlScalarNode(path[^1])] = value;
    }

    public bool Has(string key) => values.ContainsKey(key) && !IsNull(values[key]);
    static bool IsNull(YamlNode n) => n is YamlScalarNode { Value: null or "" or "null" or "~" } s && s.Style == YamlDotNet.Core.ScalarStyle.Plain;

    /// <summary>
    /// When set (by the YAML reference and its tests), every key any section of this flow asks for is added here,
    /// qualified with its section ("lora.r", "datasets[].path"): the reference is checked against what is really read.
    /// </summary>
    public static readonly AsyncLocal<HashSet<string>?> KeysRead = new();

    void MarkRead(string key)
    {
        read.Add(key);
        if (KeysRead.Value is { } all)
            lock (all) all.Add(System.Text.RegularExpressions.Regex.Replace(Qualified(key), @"\[\d+\]", "[]"));
    }

    string? Scalar(string key, string expected)
    {
        MarkRead(key);
        if (!values.TryGetValue(key, out var n) || IsNull(n)) return null;
        return n is YamlScalarNode s ? s.Value : throw Error(key, $"must be {expected}, found a {(n is YamlSequenceNode ? "list" : "mapping")}");
    }

    /// <summary>A string, with ${VAR} and ${VAR:-default} replaced from the environment (e.g. ${PEFTSHARP_FIXTURES:-../shared/fixtures}).</summary>
    public string? String(string key) => Scalar(key, "a string") is { } v ? ExpandEnvironment(v) : null;

    internal static string ExpandEnvironment(string value) =>
        System.Text.RegularExpressions.Regex.Replace(value, @"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}", m =>
            Environment.GetEnvironmentVariable(m.Groups[1].Value) is { Length: > 0 } env ? env : m.Groups[2].Value);

    public double? Double(string key)
    {
        var s = Scalar(key, "a number");
        if (s is null) return null;
        return double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : throw Error(key, $"must be a number, found '{s}'");
    }

    public int? Int(string key)
    {
        var s = Scalar(key, "an integer");
        if (s is null) return null;
        return int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) ? i : throw Error(key, $"must be an integer, found '{s}'");
    }

    public bool? Bool(string key)
    {
        var s = Scalar(key, "true or false");
        if (s is null) return null;
        return s.ToLowerInvariant() switch
        {
            "true" or "yes" => true,
            "false" or "no" => false,
            _ => throw Error(key, $"must be true or false, found '{s}'"),
        };
    }

    /// <summary>A list of strings, or a single string (returned as one item).</summary>
    public IReadOnlyList<string>? Strings(string key)
    {
        MarkRead(key);
        if (!values.TryGetValue(key, out var n) || IsNull(n)) return null;
        return n switch
        {
            YamlScalarNode s => new[] { s.Value ?? "" },
            YamlSequenceNode seq => seq.Children.Select(c => c is YamlScalarNode cs ? cs.Value ?? "" : throw Error(key, "must be a list of strings")).ToList(),
            _ => throw Error(key, "must be a string or a list of strings"),
        };
    }

    /// <summary>A list of integers, or a single integer (returned as one item).</summary>
    public IReadOnlyList<int>? Ints(string key) =>
        Strings(key)?.Select(v => int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) ? i
            : throw Error(key, $"must be a list of integers, found '{v}'")).ToList();

    public ConfigSection? Section(string key)
    {
        MarkRead(key);
        if (!values.TryGetValue(key, out var n) || IsNull(n)) return null;
        var child = n is YamlMappingNode m ? new ConfigSection(m, Source, Qualified(key)) : throw Error(key, "must be a section (key: value lines)");
        children.Add(child);
        return child;
    }

    /// <summary>A list of sections (e.g. datasets); a single mapping is taken as a one-item list.</summary>
    public IReadOnlyList<ConfigSection> Sections(string key)
    {
        MarkRead(key);
        if (!values.TryGetValue(key, out var n) || IsNull(n)) return Array.Empty<ConfigSection>();
        var nodes = n switch
        {
            YamlSequenceNode seq => seq.Children,
            YamlMappingNode => new[] { n },
            _ => throw Error(key, "must be a list of sections"),
        };
        var list = nodes.Select((c, i) => c is YamlMappingNode m ? new ConfigSection(m, Source, $"{Qualified(key)}[{i}]") : throw Error(key, "must be a list of sections")).ToList();
        children.AddRange(list);
        return list;
    }

    /// <summary>Throws for the first key that no getter read, suggesting the closest known key.</summary>
    public void EnsureAllRead()
    {
        foreach (var key in values.Keys)
            if (!read.Contains(key))
            {
                var suggestion = read.OrderBy(k => Levenshtein(k, key)).FirstOrDefault();
                if (suggestion is not null && Levenshtein(suggestion, key) <= Math.Max(2, key.Length / 3))
                    throw Error(key, $"is not a known option: did you mean '{suggestion}'?");
                throw Error(key, Path.Length == 0
                    ? "is not a known option: see the README's training section for the keys"
                    : $"is not a known option: known keys here: {string.Join(", ", read)}");
            }
        foreach (var c in children) c.EnsureAllRead();
    }

    string Qualified(string key) => Path.Length == 0 ? key : Path + "." + key;

    public ConfigurationException Error(string key, string problem) => new($"{Source}: '{Qualified(key)}' {problem}");

    static int Levenshtein(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
        return d[a.Length, b.Length];
    }
}
