namespace PeftSharp.Tokenization;

/// <summary>
/// Turns generated ids into text as they arrive. Each new id is decoded together with a short window of the ids
/// before it, and only the text past the window's previous decode is returned: this keeps a leading-space rule
/// (sentencepiece's dummy prefix, run.c's space after BOS) applied once, and holds back text while the last
/// tokens end in an incomplete UTF-8 sequence (byte-fallback / byte-level pieces), which decodes as U+FFFD.
/// </summary>
public sealed class TokenStreamDecoder
{
    // A UTF-8 character spans at most 4 byte tokens: a U+FFFD that survives longer is real.
    private const int MaxPendingTokens = 4;
    private readonly ITextTokenizer _tokenizer;
    private readonly bool _skipSpecialTokens;
    private readonly List<int> _ids = [];
    private int _prefixOffset;
    private int _readOffset;

    /// <summary>A decoder with no ids yet.</summary>
    /// <param name="tokenizer">The tokenizer that produced the ids.</param>
    /// <param name="skipSpecialTokens">Leave special tokens out of the text; default true.</param>
    /// <exception cref="ArgumentNullException"><paramref name="tokenizer"/> is null.</exception>
    public TokenStreamDecoder(ITextTokenizer tokenizer, bool skipSpecialTokens = true)
    {
        _tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
        _skipSpecialTokens = skipSpecialTokens;
    }

    /// <summary>All ids pushed so far.</summary>
    public IReadOnlyList<int> Ids => _ids;

    /// <summary>Adds one id; returns the text it completes (often empty while a multi-byte character is pending).</summary>
    public string Push(int id)
    {
        _ids.Add(id);
        return Emit(force: false);
    }

    /// <summary>Returns whatever is still held back (an incomplete character comes out as U+FFFD).</summary>
    public string Flush() => _readOffset < _ids.Count ? Emit(force: true) : "";

    /// <summary>Forgets all ids, e.g. before the next prompt.</summary>
    public void Reset()
    {
        _ids.Clear();
        _prefixOffset = _readOffset = 0;
    }

    private string Emit(bool force)
    {
        string prefixText = _tokenizer.Decode(Window(_prefixOffset, _readOffset), _skipSpecialTokens);
        string fullText = _tokenizer.Decode(Window(_prefixOffset, _ids.Count), _skipSpecialTokens);
        bool incomplete = fullText.EndsWith('\uFFFD') && _ids.Count - _readOffset < MaxPendingTokens;
        if (!force && (incomplete || fullText.Length <= prefixText.Length))
        {
            // Nothing new yet; a window that only grows without text (skipped specials) is moved on.
            if (!incomplete && fullText == prefixText) { _prefixOffset = _readOffset; _readOffset = _ids.Count; }
            return "";
        }
        string delta = fullText.StartsWith(prefixText, StringComparison.Ordinal)
            ? fullText[prefixText.Length..]
            : fullText[Math.Min(prefixText.Length, fullText.Length)..];
        _prefixOffset = _readOffset;
        _readOffset = _ids.Count;
        return delta;
    }

    private IEnumerable<int> Window(int start, int end)
    {
        for (int i = start; i < end; i++) yield return _ids[i];
    }
}
