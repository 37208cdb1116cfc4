using System.Text;

namespace PeftSharp.Tokenization.SentencePiece;

/// <summary>sentencepiece's piece types (ModelProto.SentencePiece.Type).</summary>
public enum PieceType
{
    /// <summary>An ordinary piece, used in merges.</summary>
    Normal = 1,
    /// <summary>The unknown piece (&lt;unk&gt;).</summary>
    Unknown = 2,
    /// <summary>A control symbol such as &lt;s&gt; or &lt;/s&gt;: never produced from text.</summary>
    Control = 3,
    /// <summary>A user-defined symbol, always matched whole in the input.</summary>
    UserDefined = 4,
    /// <summary>A piece kept in the vocabulary but not produced by training; still mergeable here, as in sentencepiece's BPE.</summary>
    Unused = 5,
    /// <summary>A byte-fallback piece &lt;0xXX&gt;.</summary>
    Byte = 6,
}

/// <summary>One vocabulary entry of a sentencepiece model.</summary>
/// <param name="Text">The piece, with "▁" for a space (byte pieces are written "&lt;0x0A&gt;").</param>
/// <param name="Score">Its score: the merge priority for BPE (higher merges first), the log probability for unigram.</param>
/// <param name="Type">Normal, unknown, control, user-defined, unused or byte.</param>
public sealed record Piece(string Text, float Score, PieceType Type);

/// <summary>The parts of a sentencepiece ModelProto that encoding needs, parsed from the protobuf bytes.</summary>
public sealed class SentencePieceModel
{
    /// <summary>The vocabulary; a piece's index is its id.</summary>
    public List<Piece> Pieces { get; } = [];
    /// <summary>TrainerSpec.model_type: 1 UNIGRAM, 2 BPE, 3 WORD, 4 CHAR.</summary>
    public int ModelType { get; private set; } = 1;
    /// <summary>
    /// TrainerSpec.byte_fallback: unknown characters become &lt;0xXX&gt; byte pieces instead of &lt;unk&gt;.
    /// </summary>
    public bool ByteFallback { get; private set; }
    /// <summary>TrainerSpec.unk_id; default 0.</summary>
    public int UnkId { get; private set; }
    /// <summary>TrainerSpec.bos_id; default 1 (-1: none).</summary>
    public int BosId { get; private set; } = 1;
    /// <summary>TrainerSpec.eos_id; default 2 (-1: none).</summary>
    public int EosId { get; private set; } = 2;
    /// <summary>TrainerSpec.pad_id; default -1 (none).</summary>
    public int PadId { get; private set; } = -1;
    /// <summary>
    /// TrainerSpec.treat_whitespace_as_suffix: "▁" ends pieces instead of starting them (not supported for encoding).
    /// </summary>
    public bool TreatWhitespaceAsSuffix { get; private set; }
    /// <summary>NormalizerSpec.name (e.g. "identity", "nmt_nfkc"); empty when absent.</summary>
    public string NormalizerName { get; private set; } = "";
    /// <summary>
    /// True when NormalizerSpec carries a precompiled_charsmap (an NFKC-style rule table this library does not apply).
    /// </summary>
    public bool HasPrecompiledCharsMap { get; private set; }
    /// <summary>NormalizerSpec.add_dummy_prefix: prepend a space ("▁") to the input; default true.</summary>
    public bool AddDummyPrefix { get; private set; } = true;
    /// <summary>
    /// NormalizerSpec.remove_extra_whitespaces: trim and collapse runs of spaces; default true (Llama's model sets
    /// false).
    /// </summary>
    public bool RemoveExtraWhitespaces { get; private set; } = true;
    /// <summary>NormalizerSpec.escape_whitespaces: write spaces as "▁"; default true.</summary>
    public bool EscapeWhitespaces { get; private set; } = true;

    /// <summary>Reads a tokenizer.model file (a serialized sentencepiece ModelProto).</summary>
    /// <exception cref="InvalidFileFormatException">The file is missing or is not a valid ModelProto.</exception>
    public static SentencePieceModel Parse(string path)
    {
        if (!File.Exists(path)) throw new InvalidFileFormatException(path, "file not found");
        return Parse(File.ReadAllBytes(path), path);
    }

    /// <summary>Parses ModelProto bytes; <paramref name="path"/> only names the source in messages.</summary>
    /// <exception cref="InvalidFileFormatException">The bytes are not a valid ModelProto.</exception>
    public static SentencePieceModel Parse(ReadOnlySpan<byte> data, string path)
    {
        var model = new SentencePieceModel();
        var r = new ProtoReader(data, path);
        while (!r.End)
        {
            var (field, wire) = r.ReadTag();
            if (field == 1 && wire == 2) model.Pieces.Add(ParsePiece(r.ReadBytes(), path));
            else if (field == 2 && wire == 2) model.ParseTrainerSpec(r.ReadBytes(), path);
            else if (field == 3 && wire == 2) model.ParseNormalizerSpec(r.ReadBytes(), path);
            else r.Skip(wire);
        }
        if (model.Pieces.Count == 0) throw new InvalidFileFormatException(path, "no pieces; is this a sentencepiece .model file?");
        return model;
    }

    private static Piece ParsePiece(ReadOnlySpan<byte> data, string path)
    {
        var r = new ProtoReader(data, path);
        string text = "";
        float score = 0;
        var type = PieceType.Normal;
        while (!r.End)
        {
            var (field, wire) = r.ReadTag();
            if (field == 1 && wire == 2) text = Encoding.UTF8.GetString(r.ReadBytes());
            else if (field == 2 && wire == 5) score = r.ReadFloat();
            else if (field == 3 && wire == 0) type = (PieceType)(int)r.ReadVarint();
            else r.Skip(wire);
        }
        return new Piece(text, score, type);
    }

    private void ParseTrainerSpec(ReadOnlySpan<byte> data, string path)
    {
        var r = new ProtoReader(data, path);
        while (!r.End)
        {
            var (field, wire) = r.ReadTag();
            if (wire != 0) { r.Skip(wire); continue; }
            long v = (long)r.ReadVarint();
            switch (field)
            {
                case 3: ModelType = (int)v; break;
                case 24: TreatWhitespaceAsSuffix = v != 0; break;
                case 35: ByteFallback = v != 0; break;
                case 40: UnkId = (int)v; break;
                case 41: BosId = (int)v; break;
                case 42: EosId = (int)v; break;
                case 43: PadId = (int)v; break;
            }
        }
    }

    private void ParseNormalizerSpec(ReadOnlySpan<byte> data, string path)
    {
        var r = new ProtoReader(data, path);
        while (!r.End)
        {
            var (field, wire) = r.ReadTag();
            if (field == 1 && wire == 2) NormalizerName = Encoding.UTF8.GetString(r.ReadBytes());
            else if (field == 2 && wire == 2) HasPrecompiledCharsMap = r.ReadBytes().Length > 0;
            else if (field is 3 or 4 or 5 && wire == 0)
            {
                bool v = r.ReadVarint() != 0;
                if (field == 3) AddDummyPrefix = v;
                else if (field == 4) RemoveExtraWhitespaces = v;
                else EscapeWhitespaces = v;
            }
            else r.Skip(wire);
        }
    }
}
