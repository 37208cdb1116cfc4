using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace PeftSharp.Tokenization.HuggingFace;

/// <summary>An HF normalizer: rewrites one segment of input before pre-tokenization.</summary>
internal interface IHfNormalizer
{
    string Normalize(string text);
}

internal sealed class SequenceNormalizer(IReadOnlyList<IHfNormalizer> parts) : IHfNormalizer
{
    public string Normalize(string text) => parts.Aggregate(text, (t, n) => n.Normalize(t));
}

internal sealed class PrependNormalizer(string prefix) : IHfNormalizer
{
    // HF leaves an empty segment empty.
    public string Normalize(string text) => text.Length == 0 ? text : prefix + text;
}

internal sealed class ReplaceNormalizer(Regex regex, string content) : IHfNormalizer
{
    public string Normalize(string text) => regex.Replace(text, content.Replace("$", "$$", StringComparison.Ordinal));
}

internal sealed class FuncNormalizer(Func<string, string> f) : IHfNormalizer
{
    public string Normalize(string text) => f(text);
}

/// <summary>Builds normalizers from tokenizer.json's "normalizer" node.</summary>
internal static class HfNormalizerFactory
{
    public static IHfNormalizer? Create(JsonNode? node, string file)
    {
        if (node is null) return null;
        string type = JsonHelpers.TypeOf(node, file, "normalizer");
        return type switch
        {
            "Sequence" => new SequenceNormalizer(JsonHelpers.Items(node, "normalizers", file, "normalizer Sequence")
                .Select(n => Create(n, file)).OfType<IHfNormalizer>().ToList()),
            "Prepend" => new PrependNormalizer(JsonHelpers.Str(node, "prepend") ?? ""),
            "Replace" => new ReplaceNormalizer(
                JsonHelpers.PatternRegex(node, replaces: true, RegexOptions.None, file, "normalizer Replace"),
                JsonHelpers.Str(node, "content") ?? ""),
            "NFC" => new FuncNormalizer(t => t.Normalize(NormalizationForm.FormC)),
            "NFD" => new FuncNormalizer(t => t.Normalize(NormalizationForm.FormD)),
            "NFKC" => new FuncNormalizer(t => t.Normalize(NormalizationForm.FormKC)),
            "NFKD" => new FuncNormalizer(t => t.Normalize(NormalizationForm.FormKD)),
            "Lowercase" => new FuncNormalizer(t => t.ToLowerInvariant()),
            "Strip" => Strip(JsonHelpers.Bool(node, "strip_left", true), JsonHelpers.Bool(node, "strip_right", true)),
            _ => throw new ConfigurationException(
                $"{file}: normalizer type '{type}' is not supported; supported: Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD, Lowercase, Strip"),
        };
    }

    private static FuncNormalizer Strip(bool left, bool right) =>
        new(t => left && right ? t.Trim() : left ? t.TrimStart() : right ? t.TrimEnd() : t);
}
