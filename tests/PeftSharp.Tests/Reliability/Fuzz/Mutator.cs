using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace PeftSharp.Tests.Reliability.Fuzz;

/// <summary>
/// Seeded mutations of valid inputs: byte-level (bit flips, interesting 8/16/32/64-bit values written little-endian,
/// arithmetic, truncation, chunk deletion/duplication/insertion, splicing with another seed), text-level (structural
/// characters dropped or added, lines duplicated/dropped/swapped, hostile characters, numbers replaced) and JSON
/// token-level (values replaced by huge/negative/NaN/1e400/-0 numbers, empty/long/unicode strings or other types;
/// keys dropped, renamed, duplicated; nesting added or removed). All randomness comes from the one
/// <see cref="Random"/> passed in, so an input is reproduced from its seed and index alone.
/// </summary>
internal sealed class Mutator(Random rng, IReadOnlyList<byte[]> seeds, IReadOnlyList<string> words)
{
    /// <summary>Inputs are capped at this size, so a run's cost and the allocation bound stay predictable.</summary>
    public const int MaxLength = 256 * 1024;

    public const string JsonStructural = "{}[]\":,\\";

    public Random Rng => rng;

    private static readonly byte[] InterestingBytes = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0xFE, 0x20, 0x0A, 0x22, 0x7B, 0x5B];

    private static readonly long[] InterestingInts =
    [
        0, 1, -1, 2, 3, 4, 7, 8, 16, 28, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 1 << 20, (1 << 20) + 1,
        int.MaxValue, int.MinValue, int.MaxValue - 1, uint.MaxValue, 1L << 32, 1L << 40, 1L << 62, long.MaxValue, long.MinValue,
        100_000_000, 100_000_001,
    ];

    private static readonly string[] ValidNumbers =
    [
        "0", "-0", "1", "-1", "2", "3", "7", "8", "255", "256", "1024", "-2147483648", "2147483647", "2147483648", "-2147483649",
        "4294967295", "4294967296", "9223372036854775807", "9223372036854775808", "-9223372036854775808", "18446744073709551616",
        "1099511627776", "1e400", "-1e400", "1e-400", "1e308", "0.5", "1.5", "-0.0", "3.0", "1e2", "1E+2", "-1e-7",
        "99999999999999999999999999999", "1e9", "2e9", "65536",
    ];

    private static readonly string[] InvalidTokens = ["NaN", "Infinity", "-Infinity", "0x10", "01", "+1", ".5", "1.", "tru", "nul", "\"\\ud800\"", "\"\\u0000\"", "\"unterminated", "'single'", "\"\\x41\""];

    private static readonly string[] InterestingStrings =
    [
        "", " ", "a", "a b", "a b c", "é", "日本語", "👋", "\u0000", "\u2581", "\\", "/", "..", "../../etc/passwd", "(", ")", "[", "(?<", "*", "\\p{",
        "$1", "%s", "{0}", "<s>", "</s>", "<unk>", "<0x41>", "\n", "\t", "\r\n", "\uFEFF", "true", "null", "-1", "NaN", "F32", "BF16", "LORA",
        "__metadata__", "float16", "auto",
    ];

    private static readonly string[] HostileText =
    [
        "\u0000", "\uFEFF", "\ud800", "\udc00", "é", "日本", "👋", "\r", "\r\n", "\n\n", "\"", "\"\"", "\\", "\t", ",", "\u2028", "\u0085", "\u00A0",
    ];

    public bool Chance(int percent) => rng.Next(100) < percent;

    public T Pick<T>(IReadOnlyList<T> items) => items[rng.Next(items.Count)];

    // ---- bytes ----

    /// <summary>One to four byte-level mutations.</summary>
    public byte[] Bytes(byte[] input)
    {
        var data = new List<byte>(input);
        int count = 1 + (rng.Next(8) switch { < 4 => 0, < 6 => 1, 6 => 2, _ => 3 });
        for (int k = 0; k < count; k++) MutateBytes(data);
        return Cap(data.ToArray());
    }

    /// <summary>A position biased toward the start, where headers and lengths live.</summary>
    private int Pos(int length) => length == 0 ? 0 : Chance(50) ? rng.Next(Math.Min(length, 64)) : rng.Next(length);

    private void MutateBytes(List<byte> d)
    {
        int n = d.Count;
        switch (rng.Next(14))
        {
            case 0 when n > 0: d[Pos(n)] ^= (byte)(1 << rng.Next(8)); break;
            case 1 when n > 0: d[Pos(n)] = (byte)rng.Next(256); break;
            case 2 when n > 0: d[Pos(n)] = Pick(InterestingBytes); break;
            case 3: WriteInt(d, 2, Pick(InterestingInts)); break;
            case 4: WriteInt(d, 4, Pick(InterestingInts)); break;
            case 5: WriteInt(d, 8, Pick(InterestingInts)); break;
            case 6 when n >= 4:
                {
                    int p = Math.Min(Pos(n) & ~3, n - 4);
                    var span = new byte[4];
                    d.CopyTo(p, span, 0, 4);
                    int v = BinaryPrimitives.ReadInt32LittleEndian(span) + rng.Next(-16, 17);
                    BinaryPrimitives.WriteInt32LittleEndian(span, v);
                    for (int i = 0; i < 4; i++) d[p + i] = span[i];
                    break;
                }
            case 7 when n > 0:
                {
                    int keep = rng.Next(n);
                    d.RemoveRange(keep, n - keep);
                    break;
                }
            case 8 when n > 0:
                {
                    int p = Pos(n), len = Math.Min(n - p, 1 + rng.Next(Math.Max(1, n / 8)));
                    d.RemoveRange(p, len);
                    break;
                }
            case 9 when n > 0:
                {
                    int p = rng.Next(n), len = Math.Min(n - p, 1 + rng.Next(Math.Max(1, n / 4)));
                    d.InsertRange(rng.Next(n + 1), d.GetRange(p, len));
                    break;
                }
            case 10:
                {
                    var junk = new byte[1 + rng.Next(16)];
                    rng.NextBytes(junk);
                    d.InsertRange(Pos(n + 1), junk);
                    break;
                }
            case 11 when n > 1:
                {
                    int from = rng.Next(n), to = rng.Next(n), len = Math.Min(Math.Min(n - from, n - to), 1 + rng.Next(32));
                    var chunk = d.GetRange(from, len);
                    for (int i = 0; i < len; i++) d[to + i] = chunk[i];
                    break;
                }
            case 12:
                {
                    var other = Pick(seeds);
                    int cut = rng.Next(n + 1), otherCut = rng.Next(other.Length + 1);
                    d.RemoveRange(cut, n - cut);
                    d.AddRange(other.AsSpan(otherCut).ToArray());
                    break;
                }
            default:
                {
                    // Truncation near the end (a download cut short) gets its own share.
                    if (n == 0) break;
                    int keep = Math.Max(0, n - 1 - rng.Next(Math.Min(n, 16)));
                    d.RemoveRange(keep, n - keep);
                    break;
                }
        }
    }

    private void WriteInt(List<byte> d, int width, long value)
    {
        if (d.Count < width) return;
        int p = Pos(d.Count);
        if (Chance(50)) p &= ~(width - 1);
        p = Math.Min(p, d.Count - width);
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
        for (int i = 0; i < width; i++) d[p + i] = bytes[i];
    }

    private static byte[] Cap(byte[] data) => data.Length <= MaxLength ? data : data[..MaxLength];

    // ---- text ----

    /// <summary>One or two text-level mutations; <paramref name="structural"/> are the format's syntax characters.</summary>
    public string Text(string s, string structural)
    {
        int count = Chance(70) ? 1 : 2;
        for (int k = 0; k < count; k++) s = MutateText(s, structural);
        return s.Length <= MaxLength / 4 ? s : s[..(MaxLength / 4)];
    }

    private string MutateText(string s, string structural)
    {
        int n = s.Length;
        switch (rng.Next(10))
        {
            case 0:
                {
                    // Drop one structural character (a bracket, quote, delimiter, ...).
                    int start = rng.Next(n + 1);
                    int at = s.IndexOfAny(structural.ToCharArray(), Math.Min(start, n));
                    if (at < 0) at = s.IndexOfAny(structural.ToCharArray());
                    return at < 0 ? s : s.Remove(at, 1);
                }
            case 1: return s.Insert(rng.Next(n + 1), structural[rng.Next(structural.Length)].ToString());
            case 2: return s[..rng.Next(n + 1)];
            case 3 or 4 or 5:
                {
                    var lines = s.Split('\n').ToList();
                    int i = rng.Next(lines.Count), j = rng.Next(lines.Count);
                    if (rng.Next(3) == 0) lines.Insert(j, lines[i]);
                    else if (rng.Next(2) == 0 && lines.Count > 1) lines.RemoveAt(i);
                    else (lines[i], lines[j]) = (lines[j], lines[i]);
                    return string.Join('\n', lines);
                }
            case 6:
                {
                    string insert = rng.Next(4) switch
                    {
                        0 => new string('x', 256 + rng.Next(4096)),
                        1 when words.Count > 0 => Pick(words),
                        _ => Pick(HostileText),
                    };
                    return s.Insert(rng.Next(n + 1), insert);
                }
            case 7:
                {
                    // Replace the digits of one number.
                    int from = rng.Next(n + 1);
                    int at = s.AsSpan(Math.Min(from, n)).IndexOfAnyInRange('0', '9');
                    if (at < 0) return s;
                    at += Math.Min(from, n);
                    int end = at;
                    while (end < n && (char.IsAsciiDigit(s[end]) || s[end] is '.' or 'e' or 'E' or '-' or '+')) end++;
                    return s[..at] + Pick(ValidNumbers).TrimStart('-') + s[end..];
                }
            case 8 when n > 1:
                {
                    int a = rng.Next(n), len = Math.Min(n - a, 1 + rng.Next(64)), to = rng.Next(n + 1);
                    return s.Insert(to, s.Substring(a, len));
                }
            default:
                {
                    if (n == 0) return s;
                    int a = rng.Next(n), len = Math.Min(n - a, 1 + rng.Next(16));
                    return s.Remove(a, len);
                }
        }
    }

    // ---- JSON ----

    /// <summary>A JSON document mutated at the token level (most inputs), then sometimes at the text and byte level.</summary>
    public byte[] Json(byte[] seed)
    {
        string text = Encoding.UTF8.GetString(seed);
        int r = rng.Next(10);
        if (r < 7) text = Tree(JNode.Parse(text)).ToJson();
        if (r is >= 5 and < 9) text = Text(text, JsonStructural);
        var bytes = Encoding.UTF8.GetBytes(text);
        return r == 9 || Chance(10) ? Bytes(bytes) : Cap(bytes);
    }

    /// <summary>One to three token-level mutations of the tree; returns the (possibly replaced) root.</summary>
    public JNode Tree(JNode root)
    {
        int count = 1 + (Chance(60) ? 0 : rng.Next(3));
        for (int k = 0; k < count; k++) root = MutateTree(root);
        return root;
    }

    private JNode MutateTree(JNode root)
    {
        var slots = new List<(JNode Node, Action<JNode>? Replace)>();
        root.CollectSlots(slots);
        var objects = slots.Select(s => s.Node).OfType<JObj>().Where(o => o.Props.Count > 0).ToList();
        var arrays = slots.Select(s => s.Node).OfType<JArr>().Where(a => a.Items.Count > 0).ToList();
        var (node, replace) = Pick(slots);
        JNode? replacement = null;
        switch (rng.Next(14))
        {
            case 0 or 1 or 2 or 3: replacement = InterestingValue(); break;
            case 4 when objects.Count > 0:
                {
                    var o = Pick(objects);
                    o.Props.RemoveAt(rng.Next(o.Props.Count));
                    break;
                }
            case 5 when objects.Count > 0:
                {
                    var p = Pick(Pick(objects).Props);
                    p.Key = rng.Next(4) switch
                    {
                        0 => "",
                        1 => p.Key.ToUpperInvariant(),
                        2 => p.Key + "_x",
                        _ => words.Count > 0 ? Pick(words) : "k",
                    };
                    break;
                }
            case 6 when objects.Count > 0:
                {
                    var o = Pick(objects);
                    var p = Pick(o.Props);
                    o.Props.Insert(rng.Next(o.Props.Count + 1), new JProp(p.Key, Chance(50) ? p.Value.Clone() : InterestingValue()));
                    break;
                }
            case 7: replacement = Chance(50) ? new JArr([node]) : new JObj([new JProp(words.Count > 0 ? Pick(words) : "k", node)]); break;
            case 8:
                replacement = node switch
                {
                    JArr { Items.Count: > 0 } a => a.Items[0],
                    JObj { Props.Count: > 0 } o => o.Props[0].Value,
                    _ => new JArr([]),
                };
                break;
            case 9:
                {
                    JNode deep = node;
                    int depth = 30 + rng.Next(200);
                    for (int i = 0; i < depth; i++) deep = Chance(50) ? new JArr([deep]) : new JObj([new JProp("a", deep)]);
                    replacement = deep;
                    break;
                }
            case 10: replacement = Pick(slots).Node.Clone(); break;
            case 11 when arrays.Count > 0:
                {
                    var a = Pick(arrays);
                    switch (rng.Next(4))
                    {
                        case 0: a.Items.RemoveAt(rng.Next(a.Items.Count)); break;
                        case 1: a.Items.Insert(rng.Next(a.Items.Count + 1), Pick(a.Items).Clone()); break;
                        case 2:
                            {
                                var item = Pick(a.Items);
                                int times = 2 + rng.Next(64);
                                for (int i = 0; i < times; i++) a.Items.Add(item.Clone());
                                break;
                            }
                        default: a.Items.Clear(); break;
                    }
                    break;
                }
            case 12 when objects.Count > 0:
                Pick(objects).Props.Add(new JProp(words.Count > 0 ? Pick(words) : "k", InterestingValue()));
                break;
            case 13 when objects.Count > 0:
                {
                    var props = Pick(objects).Props;
                    int i = rng.Next(props.Count), j = rng.Next(props.Count);
                    (props[i], props[j]) = (props[j], props[i]);
                    break;
                }
            default: replacement = InterestingValue(); break;
        }
        if (replacement is null) return root;
        if (replace is null) return replacement;
        replace(replacement);
        return root;
    }

    private JNode InterestingValue() => rng.Next(20) switch
    {
        < 8 => new JRaw(Pick(ValidNumbers)),
        < 14 => new JStr(rng.Next(5) switch
        {
            0 => new string('x', 256 + rng.Next(4096)),
            1 when words.Count > 0 => Pick(words),
            _ => Pick(InterestingStrings),
        }),
        14 => new JRaw(Pick(["true", "false", "null"])),
        15 => new JObj([]),
        16 => new JArr([]),
        17 => new JArr([new JRaw(rng.Next(-2, 100).ToString(CultureInfo.InvariantCulture)), new JStr("b")]),
        _ => new JRaw(Pick(InvalidTokens)),
    };
}
