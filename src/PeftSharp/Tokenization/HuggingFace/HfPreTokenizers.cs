using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using PeftSharp.Tokenization.Bpe;

namespace PeftSharp.Tokenization.HuggingFace;

/// <summary>One piece of pre-tokenized input; <see cref="AtStart"/> tells whether it begins at offset 0 of the original text.</summary>
internal readonly record struct PreToken(string Text, bool AtStart);

/// <summary>An HF pre-tokenizer: splits (and may rewrite) a piece into smaller pieces.</summary>
internal interface IHfPreTokenizer
{
    void Split(PreToken piece, List<PreToken> output);
}

internal sealed class SequencePreTokenizer(IReadOnlyList<IHfPreTokenizer> parts) : IHfPreTokenizer
{
    public void Split(PreToken piece, List<PreToken> output)
    {
        var current = new List<PreToken> { piece };
        foreach (var part in parts)
        {
            var next = new List<PreToken>();
            foreach (var p in current) part.Split(p, next);
            current = next;
        }
        output.AddRange(current);
    }
}

/// <summary>HF's Split: a regex or literal with a delimiter behavior (Isolated, Removed, MergedWith*, Contiguous).</summary>
internal sealed class RegexSplitPreTokenizer(Regex regex, string behavior, bool invert) : IHfPreTokenizer
{
    public void Split(PreToken piece, List<PreToken> output)
    {
        // (start, end, isMatch) spans covering the whole text.
        var spans = new List<(int Start, int End, bool Match)>();
        int last = 0;
        for (var m = regex.Match(piece.Text); m.Success; m = m.NextMatch())
        {
            if (m.Length == 0) continue;
            if (m.Index > last) spans.Add((last, m.Index, invert));
            spans.Add((m.Index, m.Index + m.Length, !invert));
            last = m.Index + m.Length;
        }
        if (last < piece.Text.Length) spans.Add((last, piece.Text.Length, invert));

        var pieces = new List<(int Start, int End)>();
        switch (behavior)
        {
            case "Isolated": pieces.AddRange(spans.Select(s => (s.Start, s.End))); break;
            case "Removed": pieces.AddRange(spans.Where(s => !s.Match).Select(s => (s.Start, s.End))); break;
            case "MergedWithPrevious":
                for (int i = 0; i < spans.Count; i++)
                    if (spans[i].Match && i > 0 && !spans[i - 1].Match) pieces[^1] = (pieces[^1].Start, spans[i].End);
                    else pieces.Add((spans[i].Start, spans[i].End));
                break;
            case "MergedWithNext":
                for (int i = 0; i < spans.Count; i++)
                    if (spans[i].Match && i + 1 < spans.Count && !spans[i + 1].Match) { pieces.Add((spans[i].Start, spans[i + 1].End)); i++; }
                    else pieces.Add((spans[i].Start, spans[i].End));
                break;
            case "Contiguous":
                for (int i = 0; i < spans.Count; i++)
                    if (i > 0 && spans[i].Match && spans[i - 1].Match) pieces[^1] = (pieces[^1].Start, spans[i].End);
                    else pieces.Add((spans[i].Start, spans[i].End));
                break;
            default: throw new ConfigurationException($"Split pre-tokenizer behavior '{behavior}' is not supported");
        }
        foreach (var (start, end) in pieces)
            output.Add(new PreToken(piece.Text[start..end], piece.AtStart && start == 0));
    }
}

/// <summary>HF's ByteLevel pre-tokenizer: optional prefix space, optional GPT-2 regex split, then bytes to the byte alphabet.</summary>
internal sealed class ByteLevelPreTokenizer(bool addPrefixSpace, bool useRegex) : IHfPreTokenizer
{
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
    private static readonly RegexSplitPreTokenizer Gpt2Split =
        new(new Regex(Gpt2Pattern, RegexOptions.CultureInvariant | RegexOptions.Compiled), "Isolated", false);

    public void Split(PreToken piece, List<PreToken> output)
    {
        string text = addPrefixSpace && !piece.Text.StartsWith(' ') ? " " + piece.Text : piece.Text;
        var parts = new List<PreToken>();
        if (useRegex) Gpt2Split.Split(piece with { Text = text }, parts);
        else parts.Add(piece with { Text = text });
        foreach (var p in parts) output.Add(p with { Text = ByteLevelAlphabet.Encode(p.Text) });
    }
}

/// <summary>HF's Metaspace: spaces become ▁, a ▁ is prepended per prepend_scheme, optional split before each ▁.</summary>
internal sealed class MetaspacePreTokenizer(char replacement, string prependScheme, bool split) : IHfPreTokenizer
{
    public void Split(PreToken piece, List<PreToken> output)
    {
        string text = piece.Text.Replace(' ', replacement);
        bool prepend = prependScheme == "always" || (prependScheme == "first" && piece.AtStart);
        if (prepend && !text.StartsWith(replacement)) text = replacement + text;
        if (!split) { output.Add(piece with { Text = text }); return; }
        int start = 0;
        for (int i = 1; i <= text.Length; i++)
            if (i == text.Length || text[i] == replacement)
            {
                output.Add(new PreToken(text[start..i], piece.AtStart && start == 0));
                start = i;
            }
    }
}

/// <summary>Builds pre-tokenizers from tokenizer.json's "pre_tokenizer" node.</summary>
internal static class HfPreTokenizerFactory
{
    public static IHfPreTokenizer? Create(JsonNode? node, string file)
    {
        // Each ByteLevel pass re-encodes the previous pass's alphabet, at least doubling non-ASCII text: 40 of them in a
        // 4 KB file would grow a word past any memory. Real tokenizers apply it once.
        if (CountByteLevel(node) is var passes and > 1)
            throw new InvalidFileFormatException(file, $"pre_tokenizer applies ByteLevel {passes} times; a tokenizer.json applies it once (keep one)");
        return CreateStep(node, file);
    }

    internal static int CountByteLevel(JsonNode? node) => JsonHelpers.Str(node, "type") switch
    {
        "ByteLevel" => 1,
        "Sequence" => (JsonHelpers.Get(node, "pretokenizers") as JsonArray)?.Sum(CountByteLevel) ?? 0,
        _ => 0,
    };

    private static IHfPreTokenizer? CreateStep(JsonNode? node, string file)
    {
        if (node is null) return null;
        string type = JsonHelpers.TypeOf(node, file, "pre_tokenizer");
        return type switch
        {
            "Sequence" => new SequencePreTokenizer(JsonHelpers.Items(node, "pretokenizers", file, "pre_tokenizer Sequence")
                .Select(n => CreateStep(n, file)).OfType<IHfPreTokenizer>().ToList()),
            "Split" => new RegexSplitPreTokenizer(
                JsonHelpers.PatternRegex(node, replaces: false, RegexOptions.Compiled, file, "pre_tokenizer Split"),
                JsonHelpers.Str(node, "behavior") ?? "Isolated", JsonHelpers.Bool(node, "invert", false)),
            "ByteLevel" => new ByteLevelPreTokenizer(JsonHelpers.Bool(node, "add_prefix_space", true), JsonHelpers.Bool(node, "use_regex", true)),
            "Metaspace" => new MetaspacePreTokenizer(MetaspaceReplacement(node), PrependScheme(node), JsonHelpers.Bool(node, "split", true)),
            "Digits" => new RegexSplitPreTokenizer(
                new Regex(JsonHelpers.Bool(node, "individual_digits", false) ? @"\p{N}" : @"\p{N}+", RegexOptions.CultureInvariant), "Isolated", false),
            "Whitespace" => new RemoveWhitespace(
                new RegexSplitPreTokenizer(new Regex(@"\w+|[^\w\s]+", RegexOptions.CultureInvariant), "Isolated", false)),
            "WhitespaceSplit" => new RegexSplitPreTokenizer(new Regex(@"\s+", RegexOptions.CultureInvariant), "Removed", false),
            _ => throw new ConfigurationException(
                $"{file}: pre_tokenizer type '{type}' is not supported; supported: Sequence, Split, ByteLevel, Metaspace, Digits, Whitespace, WhitespaceSplit"),
        };
    }

    internal static char MetaspaceReplacement(JsonNode node)
    {
        string r = JsonHelpers.Str(node, "replacement") ?? "\u2581";
        return r.Length == 1 ? r[0] : '\u2581';
    }

    /// <summary>Old files carry add_prefix_space instead of prepend_scheme.</summary>
    internal static string PrependScheme(JsonNode node) =>
        JsonHelpers.Str(node, "prepend_scheme") ?? (JsonHelpers.Bool(node, "add_prefix_space", true) ? "always" : "never");

    /// <summary>Whitespace = keep \w+ and [^\w\s]+ runs, drop the whitespace between them.</summary>
    private sealed class RemoveWhitespace(IHfPreTokenizer inner) : IHfPreTokenizer
    {
        public void Split(PreToken piece, List<PreToken> output)
        {
            var parts = new List<PreToken>();
            inner.Split(piece, parts);
            output.AddRange(parts.Where(p => !string.IsNullOrWhiteSpace(p.Text)));
        }
    }
}
