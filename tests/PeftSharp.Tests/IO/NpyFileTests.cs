using System.IO.Compression;
using System.Text;
using PeftSharp.IO.Numpy;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.IO;

/// <summary>.npy / .npz bytes assembled here per NumPy's format spec (not by any writer of ours).</summary>
public class NpyFileTests
{
    private static byte[] Npy(string header, float[] values, int version = 1)
    {
        var h = Encoding.Latin1.GetBytes(header + "\n");
        var bytes = new List<byte> { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', (byte)version, 0 };
        bytes.AddRange(version == 1 ? BitConverter.GetBytes((ushort)h.Length) : BitConverter.GetBytes((uint)h.Length));
        bytes.AddRange(h);
        foreach (float v in values) bytes.AddRange(BitConverter.GetBytes(v));
        return bytes.ToArray();
    }

    private const string F4x2x3 = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Hand_assembled_array_parses(int version)
    {
        var a = NpyFile.Parse(Npy(F4x2x3, [1, 2, 3, 4, 5, -6.5f], version), "a.npy");
        Assert.Equal([2, 3], a.Shape);
        Assert.Equal([1, 2, 3, 4, 5, -6.5f], a.Data);
    }

    [Theory]
    [InlineData("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 4, "dtype '<f8' is not supported")]
    [InlineData("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", 2, "Fortran order")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 2, "shape (3,) needs 12 bytes of float32 data, found 8")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, }", 2, "no 'shape' field")]
    public void Unsupported_or_inconsistent_array_is_rejected(string header, int floats, string expected)
    {
        var e = Assert.Throws<InvalidFileFormatException>(() => NpyFile.Parse(Npy(header, new float[floats]), "x.npy"));
        Assert.Contains(expected, e.Message);
        Assert.StartsWith("x.npy: ", e.Message);
    }

    [Fact]
    public void Npz_entry_reads_and_missing_entry_lists_the_available_ones()
    {
        using var dir = new TempDir();
        string path = dir.File("a.npz");
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
        using (var s = zip.CreateEntry("w.npy", CompressionLevel.Optimal).Open())
            s.Write(Npy(F4x2x3, [1, 2, 3, 4, 5, 6]));

        Assert.Equal(6f, NpyFile.ReadNpz(path, "w").Data[5]);
        var e = Assert.Throws<InvalidFileFormatException>(() => NpyFile.ReadNpz(path, "mel_80"));
        Assert.Contains("no array 'mel_80' in the archive; it holds: w.npy", e.Message);
    }
}
