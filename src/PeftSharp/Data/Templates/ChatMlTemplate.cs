namespace PeftSharp.Data;

/// <summary>ChatML (Qwen2, SmolLM): <c>&lt;|im_start|&gt;role\ncontent&lt;|im_end|&gt;\n</c>; no default system prompt is added.</summary>
public sealed class ChatMlTemplate : ChatTemplate
{
    /// <inheritdoc/>
    public override string Name => "chatml";

    /// <inheritdoc/>
    public override IReadOnlyList<Segment> RenderSegments(IReadOnlyList<ChatMessage> messages)
    {
        var list = new List<Segment>();
        foreach (var m in messages)
        {
            if (m.Role == "assistant")
            {
                list.Add(new("<|im_start|>assistant\n", false));
                // The end marker is trained so the model learns to stop, as TRL's assistant masks do.
                list.Add(new(m.Content + "<|im_end|>", true));
                list.Add(new("\n", false));
            }
            else list.Add(new($"<|im_start|>{m.Role}\n{m.Content}<|im_end|>\n", false));
        }
        return list;
    }
}
