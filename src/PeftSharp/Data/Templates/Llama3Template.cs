namespace PeftSharp.Data;

/// <summary>Llama-3: <c>&lt;|begin_of_text|&gt;&lt;|start_header_id|&gt;role&lt;|end_header_id|&gt;\n\ncontent&lt;|eot_id|&gt;</c>.</summary>
public sealed class Llama3Template : ChatTemplate
{
    /// <inheritdoc/>
    public override string Name => "llama3";
    /// <inheritdoc/>
    public override string BosText => "<|begin_of_text|>";

    /// <inheritdoc/>
    public override IReadOnlyList<Segment> RenderSegments(IReadOnlyList<ChatMessage> messages)
    {
        var list = new List<Segment>();
        foreach (var m in messages)
        {
            string header = $"<|start_header_id|>{m.Role}<|end_header_id|>\n\n";
            if (m.Role == "assistant")
            {
                list.Add(new(header, false));
                list.Add(new(m.Content + "<|eot_id|>", true));
            }
            else list.Add(new(header + m.Content + "<|eot_id|>", false));
        }
        return list;
    }
}
