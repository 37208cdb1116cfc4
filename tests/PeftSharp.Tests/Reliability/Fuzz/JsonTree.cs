using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace PeftSharp.Tests.Reliability.Fuzz;

/// <summary>
/// A JSON document as a mutable tree which, unlike JsonNode, can hold duplicate keys and raw token text that is not
/// valid JSON (NaN, 1e400, a lone surrogate escape), so the mutator can write exactly the hostile document it wants.
/// </summary>
internal abstract class JNode
{
    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static JNode Parse(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return From(doc.RootElement);
    }

    private static JNode From(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => new JObj(e.EnumerateObject().Select(p => new JProp(p.Name, From(p.Value))).ToList()),
        JsonValueKind.Array => new JArr(e.EnumerateArray().Select(From).ToList()),
        JsonValueKind.String => new JStr(e.GetString()!),
        _ => new JRaw(e.GetRawText()),
    };

    public string ToJson()
    {
        var sb = new StringBuilder();
        Write(sb);
        return sb.ToString();
    }

    public abstract void Write(StringBuilder sb);
    public abstract JNode Clone();

    protected static void WriteString(StringBuilder sb, string s) => sb.Append(JsonSerializer.Serialize(s, Relaxed));

    /// <summary>Writes <paramref name="items"/> between the brackets, separated by commas.</summary>
    protected static void WriteAll<T>(StringBuilder sb, char open, List<T> items, char close, Action<T> write)
    {
        sb.Append(open);
        for (int i = 0; i < items.Count; i++)
        {
            if (i > 0) sb.Append(',');
            write(items[i]);
        }
        sb.Append(close);
    }

    /// <summary>Every node with a setter that replaces it in its parent (the root's setter is null).</summary>
    public void CollectSlots(List<(JNode Node, Action<JNode>? Replace)> slots, Action<JNode>? replace = null)
    {
        slots.Add((this, replace));
        switch (this)
        {
            case JObj o:
                foreach (var p in o.Props) p.Value.CollectSlots(slots, v => p.Value = v);
                break;
            case JArr a:
                for (int i = 0; i < a.Items.Count; i++)
                {
                    int at = i;
                    a.Items[i].CollectSlots(slots, v => a.Items[at] = v);
                }
                break;
        }
    }
}

internal sealed class JProp(string key, JNode value)
{
    public string Key { get; set; } = key;
    public JNode Value { get; set; } = value;
}

internal sealed class JObj(List<JProp> props) : JNode
{
    public List<JProp> Props { get; } = props;

    public override void Write(StringBuilder sb) => WriteAll(sb, '{', Props, '}', p =>
    {
        WriteString(sb, p.Key);
        sb.Append(':');
        p.Value.Write(sb);
    });

    public override JNode Clone() => new JObj(Props.Select(p => new JProp(p.Key, p.Value.Clone())).ToList());
}

internal sealed class JArr(List<JNode> items) : JNode
{
    public List<JNode> Items { get; } = items;

    public override void Write(StringBuilder sb) => WriteAll(sb, '[', Items, ']', item => item.Write(sb));

    public override JNode Clone() => new JArr(Items.Select(n => n.Clone()).ToList());
}

internal sealed class JStr(string value) : JNode
{
    public string Value { get; } = value;
    public override void Write(StringBuilder sb) => WriteString(sb, Value);
    public override JNode Clone() => this;
}

/// <summary>Token text written as is: numbers, true/false/null, or anything hostile.</summary>
internal sealed class JRaw(string text) : JNode
{
    public string Text { get; } = text;
    public override void Write(StringBuilder sb) => sb.Append(Text);
    public override JNode Clone() => this;
}
