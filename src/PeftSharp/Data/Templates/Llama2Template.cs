namespace PeftSharp.Data;

/// <summary>
/// Llama-2 / Mistral [INST], as the Llama-2 chat template in HF renders it:
/// <c>&lt;s&gt;[INST] &lt;&lt;SYS&gt;&gt;\nsys\n&lt;&lt;/SYS&gt;&gt;\n\nuser [/INST] assistant &lt;/s&gt;&lt;s&gt;[INST] user2 [/INST] ...</c>.
/// The system prompt goes inside the first [INST]. Content is not stripped (HF's template strips it).
/// </summary>
public sealed class Llama2Template : ChatTemplate
{
    /// <inheritdoc/>
    public override string Name => "llama2";
    /// <inheritdoc/>
    public override string BosText => "<s>";

    /// <inheritdoc/>
    public override IReadOnlyList<Segment> RenderSegments(IReadOnlyList<ChatMessage> messages)
    {
        var list = new List<Segment>();
        int i = 0;
        string? system = null;
        if (messages.Count > 0 && messages[0].Role == "system") { system = messages[0].Content; i = 1; }
        bool first = true;
        for (; i < messages.Count; i++)
        {
            var m = messages[i];
            if (m.Role == "user")
            {
                string sys = first && system is not null ? $"<<SYS>>\n{system}\n<</SYS>>\n\n" : "";
                // Every turn after the first opens with BOS as text; the first BOS is the tokenizer's.
                list.Add(new($"{(first ? "" : "<s>")}[INST] {sys}{m.Content} [/INST]", false));
                first = false;
            }
            else
            {
                RequireRole(m, "user", "assistant");
                list.Add(new($" {m.Content} </s>", true));
            }
        }
        return list;
    }
}
