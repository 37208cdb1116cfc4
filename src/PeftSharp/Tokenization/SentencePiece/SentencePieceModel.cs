using System.Text;

namespace PeftSharp.Tokenization.SentencePiece;

/// <summary>sentencepiece's piece types (ModelProto.SentencePiece.Type).</summary>
public enum PieceType { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 }

public sealed record Piece(string Text, float Score, PieceType Type);

/// <summary>The parts of a sentencepiece ModelProto that encoding needs, parsed from the protobuf bytes.</summary>
public sealed class SentencePieceModel
{
    public List<Piece> Pieces { get; } = [];
    /// <summary>TrainerSpec.model_type: 1 UNIGRAM, 2 BPE, 3 WORD, 4 CHAR.</summary>
    public int ModelType { get; private set; } = 1;
    public bool ByteFallback { get; private set; }
    public int UnkId { get; private set; }
    public int BosId { get; private set; } = 1;
    public int EosId { get; private set; } = 2;
    public int PadId { get; private set; } = -1;
    public bool TreatWhitespaceAsSuffix { get; private set; }
    public string NormalizerName { get; private set; } = "";
    public bool HasPrecompiledCharsMap { get; private set; }
    public bool AddDummyPrefix { get; private set; } = true;
    public bool RemoveExtraWhitespaces { get; private set; } = true;
    public bool EscapeWhitespaces { get; private set; } = true;

    public static SentencePieceModel Parse(string path)
    {
        if (!File.Exists(path)) throw new InvalidFileFormatException(path, "file not found");
        return Parse(File.ReadAllBytes(path), path);
    }

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
