using System.Text;
using PeftSharp.Tokenization.Bpe;

namespace PeftSharp.Tokenization.Llama2c;

/// <summary>
/// llama2.c's tokenizer.bin (int32 max_token_length, then per token float32 score, int32 length, bytes),
/// encoding and decoding exactly as run.c's encode/decode do.
/// </summary>
public sealed class Llama2cTokenizer : ITextTokenizer
{
    // Pieces are raw bytes held as Latin-1 strings, as run.c compares C strings.
    private readonly string[] _pieces;
    private readonly float[] _scores;
    private readonly Dictionary<string, int> _lookup = new(StringComparer.Ordinal);

    /// <summary>Number of pieces in the file (32000 for Llama-2's vocabulary, 512 for stories260K).</summary>
    public int VocabSize => _pieces.Length;
    /// <summary>
    /// The header's max_token_length: the longest piece in bytes (run.c sizes its merge buffer with it).
    /// </summary>
    public int MaxTokenLength { get; }
    /// <inheritdoc/>
    public int? BosId { get; }
    /// <inheritdoc/>
    public int? EosId => EosIds.Count > 0 ? EosIds[0] : null;
    /// <inheritdoc/>
    public IReadOnlyList<int> EosIds { get; }
    /// <inheritdoc/>
    public int? PadId { get; }

    /// <summary>Ids 0..2 are &lt;unk&gt;, &lt;s&gt;, &lt;/s&gt;; 3..258 the byte pieces run.c's byte fallback uses.</summary>
    private const int FirstMergeId = 3 + 256;

    /// <summary>Reads <paramref name="path"/>; throws <see cref="InvalidFileFormatException"/> when it is truncated or not a llama2.c tokenizer.</summary>
    /// <param name="path">The tokenizer.bin file.</param>
    /// <param name="vocabSize">The model's vocab_size when known: the file is then checked to hold exactly that many tokens.</param>
    /// <param name="settings">Special tokens from the model folder; null: run.c's own (BOS 1, EOS 2, no padding).</param>
    public Llama2cTokenizer(string path, int? vocabSize = null, SpecialTokenSettings? settings = null)
    {
        if (!File.Exists(path)) throw new InvalidFileFormatException(path, "file not found");
        var data = File.ReadAllBytes(path);
        if (data.Length < 4) throw new InvalidFileFormatException(path, "shorter than the 4-byte max_token_length header; the file is truncated");
        MaxTokenLength = BitConverter.ToInt32(data, 0);
        var pieces = new List<string>();
        var scores = new List<float>();
        int pos = 4;
        while (pos < data.Length && (vocabSize is null || pieces.Count < vocabSize))
        {
            if (data.Length - pos < 8) throw Truncated(path, pieces.Count);
            float score = BitConverter.ToSingle(data, pos);
            int len = BitConverter.ToInt32(data, pos + 4);
            pos += 8;
            if (len < 0 || len > data.Length - pos) throw Truncated(path, pieces.Count);
            pieces.Add(Encoding.Latin1.GetString(data, pos, len));
            scores.Add(score);
            pos += len;
        }
        if (vocabSize is int n && pieces.Count != n)
            throw new InvalidFileFormatException(path, $"holds {pieces.Count} tokens but the model's vocab_size is {n}; the file is truncated or belongs to another model");
        if (pieces.Count < FirstMergeId)
            throw new InvalidFileFormatException(path, $"holds only {pieces.Count} tokens; a llama2.c tokenizer.bin starts with <unk>, <s>, </s> " +
                "and the 256 byte pieces <0x00>..<0xFF> (ids 3..258, which byte fallback encodes to), so it has at least 259: is this a llama2.c tokenizer.bin?");
        _pieces = [.. pieces];
        _scores = [.. scores];
        // run.c bsearches a sorted copy; with duplicate strings the first id is kept here.
        for (int i = 0; i < _pieces.Length; i++) _lookup.TryAdd(_pieces[i], i);

        settings ??= SpecialTokenSettings.Empty;
        var (bos, eos, pad) = settings.Resolve(TokenToId, 1, 2, null);
        BosId = bos;
        EosIds = eos;
        PadId = pad;
    }

    private static InvalidFileFormatException Truncated(string path, int count) =>
        new(path, $"ends inside token {count}; the file is truncated");

    /// <summary>run.c's encode(text, bos=addSpecialTokens, eos=false).</summary>
    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var symbols = new List<int>();
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        if (bytes.Length > 0 && _lookup.TryGetValue(" ", out int dummy)) symbols.Add(dummy);
        for (int i = 0; i < bytes.Length;)
        {
            // A codepoint is a lead byte and up to 3 continuation bytes (run.c's grouping).
            int len = 1;
            while (i + len < bytes.Length && (bytes[i + len] & 0xC0) == 0x80 && len < 4) len++;
            string cp = Encoding.Latin1.GetString(bytes, i, len);
            if (_lookup.TryGetValue(cp, out int id)) symbols.Add(id);
            else for (int k = 0; k < len; k++) symbols.Add(bytes[i + k] + 3); // byte fallback: <0x00> is id 3
            i += len;
        }
        var ids = PairMerger.Merge(symbols, TryMerge);
        if (addSpecialTokens && BosId is int bos) ids.Insert(0, bos);
        return ids;
    }

    private bool TryMerge(int left, int right, out double priority, out int merged)
    {
        bool found = _lookup.TryGetValue(_pieces[left] + _pieces[right], out merged);
        priority = found ? -(double)_scores[merged] : 0;
        return found;
    }

    /// <summary>run.c's decode per token: the leading space after BOS is dropped, &lt;0xXX&gt; pieces are raw bytes.</summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true)
    {
        var bytes = new List<byte>();
        int prev = -1;
        foreach (int id in ids)
        {
            if (id < 0 || id >= _pieces.Length) continue;
            bool special = id == BosId || EosIds.Contains(id);
            if (!(special && skipSpecialTokens))
            {
                string piece = _pieces[id];
                if (prev == BosId && piece.StartsWith(' ')) piece = piece[1..];
                if (Utf8Text.TryParseBytePiece(piece, out byte b)) bytes.Add(b);
                else bytes.AddRange(Encoding.Latin1.GetBytes(piece));
            }
            prev = id;
        }
        return Utf8Text.DecodeLossy(bytes);
    }

    /// <summary>The piece as stored (llama2.c's export wrote spaces where SentencePiece has ▁).</summary>
    public string IdToToken(int id) => id >= 0 && id < _pieces.Length
        ? Encoding.UTF8.GetString(Encoding.Latin1.GetBytes(_pieces[id]))
        : throw new ArgumentOutOfRangeException(nameof(id), id, $"id is outside the vocabulary (size {VocabSize})");

    /// <inheritdoc/>
    public int? TokenToId(string token) =>
        _lookup.TryGetValue(Encoding.Latin1.GetString(Encoding.UTF8.GetBytes(token)), out int id) ? id : null;

    /// <summary>The piece's merge score from the file (run.c merges the pair whose result scores highest).</summary>
    /// <exception cref="IndexOutOfRangeException">The id is outside the vocabulary.</exception>
    public float Score(int id) => _scores[id];
}
