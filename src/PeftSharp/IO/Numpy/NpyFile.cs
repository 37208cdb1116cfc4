using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;

namespace PeftSharp.IO.Numpy;

/// <summary>A float32 array read from a NumPy .npy file: its shape and its values in C (row-major) order.</summary>
public sealed record NpyArray(int[] Shape, float[] Data);

/// <summary>
/// Reader for NumPy's .npy format (versions 1-3) and .npz archives (a zip of .npy files, stored or deflated), limited
/// to what PeftSharp needs: little-endian float32 ('&lt;f4') arrays in C order.
/// </summary>
public static partial class NpyFile
{
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Reads the array named <paramref name="name"/> (with or without ".npy") from the .npz at <paramref name="path"/>.</summary>
    public static NpyArray ReadNpz(string path, string name)
    {
        path = Path.GetFullPath(path);
        using var zip = OpenZip(path);
        string entryName = name.EndsWith(".npy", StringComparison.Ordinal) ? name : name + ".npy";
        var entry = zip.GetEntry(entryName) ?? throw new InvalidFileFormatException(path,
            $"no array '{name}' in the archive; it holds: {string.Join(", ", zip.Entries.Select(e => e.FullName))}");
        using var stream = entry.Open();
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return Parse(buffer.ToArray(), $"{path}[{entryName}]");
    }

    /// <summary>Reads a .npy file.</summary>
    public static NpyArray Read(string path)
    {
        path = Path.GetFullPath(path);
        return Parse(File.ReadAllBytes(path), path);
    }

    private static ZipArchive OpenZip(string path)
    {
        try { return ZipFile.OpenRead(path); }
        catch (InvalidDataException e) { throw new InvalidFileFormatException(path, "not a valid .npz (zip) archive: " + e.Message, e); }
    }

    /// <summary>Parses .npy bytes; <paramref name="source"/> names them in error messages.</summary>
    public static NpyArray Parse(ReadOnlySpan<byte> bytes, string source)
    {
        if (bytes.Length < 10 || !bytes[..6].SequenceEqual(Magic))
            throw new InvalidFileFormatException(source, "not a .npy array (missing the \\x93NUMPY magic)");
        int major = bytes[6];
        int headerStart = major == 1 ? 10 : 12;
        if (major is < 1 or > 3)
            throw new InvalidFileFormatException(source, $".npy format version {major} is not supported (1, 2 and 3 are)");
        if (bytes.Length < headerStart)
            throw new InvalidFileFormatException(source, "truncated .npy header");
        long headerLength = major == 1 ? BinaryPrimitives.ReadUInt16LittleEndian(bytes[8..]) : BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]);
        if (headerStart + headerLength > bytes.Length)
            throw new InvalidFileFormatException(source, $"the .npy header ({headerLength} bytes) runs past the end of the data ({bytes.Length} bytes)");
        string header = Encoding.Latin1.GetString(bytes.Slice(headerStart, (int)headerLength));

        string descr = Field(DescrRegex(), header, "descr", source);
        if (descr != "<f4")
            throw new InvalidFileFormatException(source, $"dtype '{descr}' is not supported; only little-endian float32 ('<f4') is (convert with arr.astype('<f4'))");
        if (Field(FortranRegex(), header, "fortran_order", source) != "False")
            throw new InvalidFileFormatException(source, "the array is in Fortran order; save it in C order (np.ascontiguousarray)");
        string shapeText = Field(ShapeRegex(), header, "shape", source);
        int[] shape = shapeText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(int.Parse).ToArray();

        long count = shape.Aggregate(1L, (a, d) => a * d);
        var data = bytes[(headerStart + (int)headerLength)..];
        if (data.Length != count * 4)
            throw new InvalidFileFormatException(source, $"shape ({shapeText}) needs {count * 4} bytes of float32 data, found {data.Length}");
        var values = new float[count];
        for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(data[(4 * i)..]);
        return new NpyArray(shape, values);
    }

    private static string Field(Regex regex, string header, string name, string source)
    {
        var m = regex.Match(header);
        return m.Success ? m.Groups[1].Value : throw new InvalidFileFormatException(source, $"the .npy header has no '{name}' field: {header.Trim()}");
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([^']*)'")] private static partial Regex DescrRegex();
    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)")] private static partial Regex FortranRegex();
    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")] private static partial Regex ShapeRegex();
}
