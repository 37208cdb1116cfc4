using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using PeftSharp.Tokenization.Bpe;

namespace PeftSharp.Tokenization.HuggingFace;

/// <summary>An HF decoder step: maps the list of token strings to a new list (HF's decode_chain); the result is concatenated.</summary>
internal interface IHfDecoder
{
    List<string> DecodeChain(List<string> tokens);
}

internal sealed class SequenceDecoder(IReadOnlyList<IHfDecoder> parts) : IHfDecoder
{
    public List<string> DecodeChain(List<string> tokens) => parts.Aggregate(tokens, (t, d) => d.DecodeChain(t));
}

internal sealed class ByteLevelDecoder : IHfDecoder
{
    public List<string> DecodeChain(List<string> tokens)
    {
        var bytes = new List<byte>();
        foreach (var t in tokens) ByteLevelAlphabet.AppendBytes(t, bytes);
        return [Utf8Text.DecodeLossy(bytes)];
    }
}

internal sealed class ReplaceDecoder(Regex regex, string content) : IHfDecoder
{
    public List<string> DecodeChain(List<string> tokens) =>
        tokens.Select(t => regex.Replace(t, content.Replace("$", "$$", StringComparison.Ordinal))).ToList();
}

/// <summary>Runs of &lt;0xXX&gt; tokens become text; an invalid UTF-8 run gives one U+FFFD per byte, as HF does.</summary>
internal sealed class ByteFallbackDecoder : IHfDecoder
{
    public List<string> DecodeChain(List<string> tokens)
    {
        var output = new List<string>(tokens.Count);
        var pending = new List<byte>();
        void Flush()
        {
            if (pending.Count == 0) return;
            try { output.Add(new UTF8Encoding(false, true).GetString(pending.ToArray())); }
            catch (DecoderFallbackException) { output.AddRange(Enumerable.Repeat("\uFFFD", pending.Count)); }
            pending.Clear();
        }
        foreach (var t in tokens)
        {
            if (Utf8Text.TryParseBytePiece(t, out byte b)) { pending.Add(b); continue; }
            Flush();
            output.Add(t);
        }
        Flush();
        return output;
    }
}

internal sealed class FuseDecoder : IHfDecoder
{
    public List<string> DecodeChain(List<string> tokens) => [string.Concat(tokens)];
}

/// <summary>Removes up to <c>start</c> leading and <c>stop</c> trailing copies of one char from each token.</summary>
internal sealed class StripDecoder(char content, int start, int stop) : IHfDecoder
{
    public List<string> DecodeChain(List<string> tokens) => tokens.Select(t =>
    {
        int a = 0, b = t.Length;
        while (a < b && a < start && t[a] == content) a++;
        while (b > a && t.Length - b < stop && t[b - 1] == content) b--;
        return t[a..b];
    }).ToList();
}

internal sealed class MetaspaceDecoder(char replacement, string prependScheme) : IHfDecoder
{
    public List<string> DecodeChain(List<string> tokens) => tokens.Select((t, i) =>
    {
        string s = t.Replace(replacement, ' ');
        return i == 0 && prependScheme != "never" && s.StartsWith(' ') ? s[1..] : s;
    }).ToList();
}

/// <summary>Builds decoders from tokenizer.json's "decoder" node.</summary>
internal static class HfDecoderFactory
{
    public static IHfDecoder? Create(JsonNode? node, string file)
    {
        if (node is null) return null;
        string type = JsonHelpers.TypeOf(node, file, "decoder");
        return type switch
        {
            "Sequence" => new SequenceDecoder(JsonHelpers.Items(node, "decoders", file, "decoder Sequence")
                .Select(n => Create(n, file)).OfType<IHfDecoder>().ToList()),
            "ByteLevel" => new ByteLevelDecoder(),
            "Replace" => new ReplaceDecoder(JsonHelpers.PatternRegex(node, replaces: true, RegexOptions.None, file, "decoder Replace"),
                JsonHelpers.Str(node, "content") ?? ""),
            "ByteFallback" => new ByteFallbackDecoder(),
            "Fuse" => new FuseDecoder(),
            "Strip" => new StripDecoder(JsonHelpers.Str(node, "content") is [var c] ? c
                    : throw new InvalidFileFormatException(file, $"decoder Strip needs \"content\": one character, found {JsonHelpers.Describe(JsonHelpers.Get(node, "content"))}"),
                JsonHelpers.Int(node, "start", 0), JsonHelpers.Int(node, "stop", 0)),
            "Metaspace" => new MetaspaceDecoder(HfPreTokenizerFactory.MetaspaceReplacement(node), HfPreTokenizerFactory.PrependScheme(node)),
            _ => throw new ConfigurationException(
                $"{file}: decoder type '{type}' is not supported; supported: Sequence, ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace"),
        };
    }
}
