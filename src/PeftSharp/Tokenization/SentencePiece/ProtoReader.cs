namespace PeftSharp.Tokenization.SentencePiece;

/// <summary>A minimal protobuf wire-format reader (enough for sentencepiece's ModelProto); throws on truncation.</summary>
internal ref struct ProtoReader
{
    private readonly ReadOnlySpan<byte> _data;
    private readonly string _file;
    private int _pos;

    public ProtoReader(ReadOnlySpan<byte> data, string file) { _data = data; _file = file; _pos = 0; }

    public readonly bool End => _pos >= _data.Length;

    public (int Field, int WireType) ReadTag()
    {
        ulong tag = ReadVarint();
        return ((int)(tag >> 3), (int)(tag & 7));
    }

    public ulong ReadVarint()
    {
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (_pos >= _data.Length) throw Truncated();
            byte b = _data[_pos++];
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return value;
        }
        throw new InvalidFileFormatException(_file, $"malformed protobuf varint at byte {_pos}");
    }

    public float ReadFloat() => BitConverter.Int32BitsToSingle(System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(Take(4)));

    public ReadOnlySpan<byte> ReadBytes()
    {
        ulong len = ReadVarint();
        if (len > (ulong)(_data.Length - _pos)) throw Truncated();
        return Take((int)len);
    }

    public void Skip(int wireType)
    {
        switch (wireType)
        {
            case 0: ReadVarint(); break;
            case 1: Take(8); break;
            case 2: ReadBytes(); break;
            case 5: Take(4); break;
            default: throw new InvalidFileFormatException(_file, $"unsupported protobuf wire type {wireType} at byte {_pos}; is this a sentencepiece .model file?");
        }
    }

    private ReadOnlySpan<byte> Take(int n)
    {
        if (n > _data.Length - _pos) throw Truncated();
        var s = _data.Slice(_pos, n);
        _pos += n;
        return s;
    }

    private readonly InvalidFileFormatException Truncated() =>
        new(_file, $"protobuf ends early at byte {_pos} of {_data.Length}; the file is truncated");
}
