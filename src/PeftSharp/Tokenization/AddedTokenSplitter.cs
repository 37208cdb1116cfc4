namespace PeftSharp.Tokenization;

/// <summary>A token matched as a whole in the input before normal tokenization (HF added_tokens, tiktoken specials).</summary>
public sealed record AddedToken(int Id, string Content, bool Special = true, bool LStrip = false, bool RStrip = false);

/// <summary>A stretch of input: either plain text to tokenize or one added token.</summary>
internal readonly record struct TextSegment(string Text, int Offset, AddedToken? Token);

/// <summary>Splits text around added tokens, leftmost match first and the longest token at a position, as HF does.</summary>
internal sealed class AddedTokenSplitter
{
    private readonly Dictionary<char, AddedToken[]> _byFirstChar;

    public AddedTokenSplitter(IEnumerable<AddedToken> tokens)
    {
        _byFirstChar = tokens.Where(t => t.Content.Length > 0)
            .GroupBy(t => t.Content[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Content.Length).ToArray());
    }

    public bool IsEmpty => _byFirstChar.Count == 0;

    public List<TextSegment> Split(string text)
    {
        var segments = new List<TextSegment>();
        if (IsEmpty)
        {
            if (text.Length > 0) segments.Add(new TextSegment(text, 0, null));
            return segments;
        }
        int plainStart = 0;
        int i = 0;
        while (i < text.Length)
        {
            AddedToken? hit = null;
            if (_byFirstChar.TryGetValue(text[i], out var candidates))
                hit = candidates.FirstOrDefault(t => string.CompareOrdinal(text, i, t.Content, 0, t.Content.Length) == 0);
            if (hit is null) { i++; continue; }

            int end = i + hit.Content.Length;
            int start = i;
            // lstrip/rstrip tokens swallow the whitespace beside them.
            if (hit.LStrip) while (start > plainStart && char.IsWhiteSpace(text[start - 1])) start--;
            if (hit.RStrip) while (end < text.Length && char.IsWhiteSpace(text[end])) end++;
            if (start > plainStart) segments.Add(new TextSegment(text[plainStart..start], plainStart, null));
            segments.Add(new TextSegment(hit.Content, start, hit));
            plainStart = i = end;
        }
        if (plainStart < text.Length) segments.Add(new TextSegment(text[plainStart..], plainStart, null));
        return segments;
    }
}
