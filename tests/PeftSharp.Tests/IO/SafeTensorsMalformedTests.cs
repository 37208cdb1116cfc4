using PeftSharp.Tests.Support;
using System.Text;
using PeftSharp.IO.SafeTensors;

namespace PeftSharp.Tests.IO;

public class SafeTensorsMalformedTests
{
    private const string F32x2 = """{"dtype":"F32","shape":[2],"data_offsets":[0,8]}""";

    private static byte[] H(string header, int data = 8) => SafeTensorsFormatTests.Assemble(header, data);

    // case name -> (file bytes, fragment the message must contain)
    public static TheoryData<string> Cases => new(Table.Keys);

    private static readonly Dictionary<string, (byte[] Bytes, string Expected)> Table = new()
    {
        ["empty file"] = ([], "the file is empty"),
        ["shorter than prefix"] = ([1, 2, 3], "shorter than the 8-byte header"),
        ["header length past EOF"] = (SafeTensorsFormatTests.Assemble(Encoding.UTF8.GetBytes("{}"), [], declaredLength: 100), "runs past the end of the file"),
        ["absurd header length"] = (SafeTensorsFormatTests.Assemble(Encoding.UTF8.GetBytes("{}"), [], declaredLength: 1UL << 60), "exceeds the 100 MB limit"),
        ["non-UTF-8 header"] = (SafeTensorsFormatTests.Assemble([(byte)'{', (byte)'"', 0xFF, 0xFE, (byte)'"', (byte)':', (byte)'1', (byte)'}'], []), "not valid UTF-8 (first bad byte at header offset 2)"),
        ["invalid JSON"] = (H("""{"w": """), "not valid JSON"),
        ["trailing garbage"] = (H("""{} x"""), "not valid JSON"),
        ["JSON array at top level"] = (H("[1,2]"), "it is a JSON array"),
        ["entry not an object"] = (H("""{"w": 5}"""), "tensor 'w': entry is a JSON number"),
        ["missing dtype"] = (H("""{"w":{"shape":[2],"data_offsets":[0,8]}}"""), "tensor 'w': missing field 'dtype'"),
        ["missing shape"] = (H("""{"w":{"dtype":"F32","data_offsets":[0,8]}}"""), "tensor 'w': missing field 'shape'"),
        ["missing data_offsets"] = (H("""{"w":{"dtype":"F32","shape":[2]}}"""), "tensor 'w': missing field 'data_offsets'"),
        ["unknown dtype"] = (H("""{"w":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}}"""), "tensor 'w': unknown dtype 'F8_E4M3'; supported dtypes are F64"),
        ["dtype not a string"] = (H("""{"w":{"dtype":4,"shape":[2],"data_offsets":[0,8]}}"""), "tensor 'w': dtype is a JSON number"),
        ["negative dim"] = (H("""{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"""), "tensor 'w': shape value -2 is negative"),
        ["float dim"] = (H("""{"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}"""), "tensor 'w': shape value 2.5 is not an integer"),
        ["shape not an array"] = (H("""{"w":{"dtype":"F32","shape":"2","data_offsets":[0,8]}}"""), "tensor 'w': shape is a JSON string"),
        ["shape overflows"] = (H("""{"w":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,8]}}"""), "tensor 'w': shape [4294967296, 4294967296, 4] with dtype F32 has more bytes than"),
        ["one offset"] = (H("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[0]}}"""), "tensor 'w': data_offsets must be 2 integers [begin, end], got 1"),
        ["three offsets"] = (H("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}}"""), "tensor 'w': data_offsets has more than 2 values"),
        ["offsets as strings"] = (H("""{"w":{"dtype":"F32","shape":[2],"data_offsets":["0","8"]}}"""), "tensor 'w': data_offsets holds a JSON string"),
        ["offset beyond 64 bits"] = (H("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,99999999999999999999]}}"""), "tensor 'w': data_offsets value 99999999999999999999 is not an integer"),
        ["begin after end"] = (H("""{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}"""), "tensor 'w': data_offsets [8, 4] has begin > end"),
        ["offsets out of range"] = (H("""{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", data: 8), "tensor 'w': data_offsets [0, 16] run past the end of the data section (8 bytes)"),
        ["bytes do not match dtype and shape"] = (H("""{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"""), "tensor 'w': data_offsets [0, 8] span 8 bytes, but dtype F32 with shape [3] needs 12 bytes"),
        ["overlapping tensors"] = (H("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", data: 12), "tensor 'b': data_offsets [4, 12] overlap tensor 'a' at [0, 8]"),
        ["duplicate tensor key"] = (H($$"""{"w":{{F32x2}},"w":{{F32x2}}}"""), "tensor 'w': duplicate key"),
        ["duplicate field"] = (H("""{"w":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}}"""), "tensor 'w': field 'dtype' appears twice"),
        ["metadata value not a string"] = (H($$"""{"__metadata__":{"step":1},"w":{{F32x2}}}"""), "'__metadata__' entry 'step' is a JSON number; metadata values must be strings"),
        ["metadata not an object"] = (H($$"""{"__metadata__":["pt"],"w":{{F32x2}}}"""), "'__metadata__' must be an object of string to string"),
        ["empty header"] = (SafeTensorsFormatTests.Assemble([], []), "not valid JSON"),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Malformed_file_is_rejected_with_a_specific_message(string name)
    {
        var (bytes, expected) = Table[name];
        using var folder = new TempDir();
        string path = folder.File("bad.safetensors");
        File.WriteAllBytes(path, bytes);

        var e = Assert.Throws<InvalidFileFormatException>(() => SafeTensorsFile.Open(path));

        Assert.Contains(expected, e.Message);
        Assert.StartsWith(path, e.Message);
        Assert.Equal(path, e.Path);
    }

    [Fact]
    public void The_table_covers_at_least_22_cases() => Assert.True(Table.Count >= 22);
}
