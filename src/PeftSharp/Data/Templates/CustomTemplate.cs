namespace PeftSharp.Data;

/// <summary>
/// A user-written template: one format string with the placeholders <c>{system}</c> (optional), <c>{user}</c> and
/// <c>{assistant}</c>, in that order, e.g. <c>"&lt;|system|&gt;\n{system}&lt;/s&gt;\n&lt;|user|&gt;\n{user}&lt;/s&gt;\n&lt;|assistant|&gt;\n{assistant}&lt;/s&gt;\n"</c>.
/// The string is cut into one section per role: a section runs from the end of the previous one to the end of the
/// line holding its placeholder (the first "\n" after it, included); the assistant section runs to the end of the
/// string. Each message renders its role's section with the placeholder replaced by its content; the system
/// section is used only when the conversation has a system message. In an assistant section, the text before
/// <c>{assistant}</c> is prompt and the content plus the text after it (e.g. an end-of-turn marker) is trained.
/// </summary>
public sealed class CustomTemplate : ChatTemplate
{
    readonly string? system;
    readonly string user;
    readonly string assistantPrefix;
    readonly string assistantSuffix;

    /// <summary>The format string as given, with its {system}, {user} and {assistant} placeholders.</summary>
    public string Format { get; }
    /// <inheritdoc/>
    public override string Name => "custom";

    /// <summary>Cuts <paramref name="format"/> into its role sections (see the class remarks).</summary>
    /// <exception cref="ConfigurationException">{user} or {assistant} is missing, or the placeholders are out of order.</exception>
    public CustomTemplate(string format)
    {
        Format = format;
        int s = format.IndexOf("{system}", StringComparison.Ordinal);
        int u = format.IndexOf("{user}", StringComparison.Ordinal);
        int a = format.IndexOf("{assistant}", StringComparison.Ordinal);
        if (u < 0 || a < 0 || a < u || (s >= 0 && s > u))
            throw new ConfigurationException(
                $"chat_template '{format}': a custom template needs {{user}} before {{assistant}} (and {{system}}, if present, before {{user}})");
        int pos = 0;
        if (s >= 0)
        {
            int end = EndOfLine(format, s + "{system}".Length, u);
            system = format[..end];
            pos = end;
        }
        int userEnd = EndOfLine(format, u + "{user}".Length, a);
        user = format[pos..userEnd];
        string assistant = format[userEnd..];
        int at = assistant.IndexOf("{assistant}", StringComparison.Ordinal);
        assistantPrefix = assistant[..at];
        assistantSuffix = assistant[(at + "{assistant}".Length)..];
    }

    // The section ends after the first newline following the placeholder; with no newline before the next
    // placeholder it ends right after this one.
    static int EndOfLine(string format, int from, int limit)
    {
        int nl = format.IndexOf('\n', from);
        return nl < 0 || nl >= limit ? from : nl + 1;
    }

    /// <inheritdoc/>
    public override IReadOnlyList<Segment> RenderSegments(IReadOnlyList<ChatMessage> messages)
    {
        var list = new List<Segment>();
        foreach (var m in messages)
        {
            switch (m.Role)
            {
                case "system":
                    if (system is null)
                        throw new RecordFormatException("system message", "the custom chat_template has no {system} placeholder");
                    list.Add(new(system.Replace("{system}", m.Content, StringComparison.Ordinal), false));
                    break;
                case "user":
                    list.Add(new(user.Replace("{user}", m.Content, StringComparison.Ordinal), false));
                    break;
                default:
                    RequireRole(m, "system", "user", "assistant");
                    list.Add(new(assistantPrefix, false));
                    list.Add(new(m.Content + assistantSuffix, true));
                    break;
            }
        }
        return list;
    }
}
