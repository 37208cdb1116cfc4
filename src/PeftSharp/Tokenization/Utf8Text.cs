using System.Globalization;
using System.Text;

namespace PeftSharp.Tokenization;

/// <summary>Small UTF-8 helpers shared by the tokenizers.</summary>
internal static class Utf8Text
{
    /// <summary>Invalid sequences become U+FFFD per maximal invalid subpart, as Rust's from_utf8_lossy and Python's errors="replace" do.</summary>
    public static string DecodeLossy(List<byte> bytes) =>
        Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes));

    /// <summary>Parses a "&lt;0xAB&gt;" byte piece.</summary>
    public static bool TryParseBytePiece(string piece, out byte value)
    {
        value = 0;
        return piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>'
            && byte.TryParse(piece.AsSpan(3, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out value);
    }

    public static string BytePiece(byte b) => $"<0x{b:X2}>";

    /// <summary>The text split into Unicode scalar values (a surrogate pair stays one element).</summary>
    public static List<string> Chars(string text)
    {
        var chars = new List<string>(text.Length);
        for (int i = 0; i < text.Length;)
        {
            int len = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
            chars.Add(text.Substring(i, len));
            i += len;
        }
        return chars;
    }
}
