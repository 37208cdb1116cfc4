using System.Text.Json;

namespace PeftSharp.Data;

/// <summary>
/// Turns a record into one or more examples, each a list of segments (prompt parts not trainable, responses
/// trainable). Problems with a record throw <see cref="RecordFormatException"/>, which the builder reports with
/// the record's location.
/// </summary>
public sealed class RecordFormatter
{
    readonly DataFormat format;
    readonly FieldNames names;
    readonly ChatTemplate? template;

    /// <summary>A formatter for one format; <see cref="DataFormat.Auto"/> must be resolved first (<see cref="FormatDetector.Detect"/>).</summary>
    /// <param name="format">The record format; not Auto.</param>
    /// <param name="names">The field names to read.</param>
    /// <param name="template">Required for messages; for alpaca null means the Alpaca prompt.</param>
    /// <exception cref="ArgumentException"><paramref name="format"/> is Auto.</exception>
    public RecordFormatter(DataFormat format, FieldNames names, ChatTemplate? template)
    {
        if (format == DataFormat.Auto) throw new ArgumentException("detect the format first", nameof(format));
        this.format = format;
        this.names = names;
        this.template = template;
    }

    /// <summary>
    /// The examples of one record: one for text, messages and prompt/completion, one per instance for Stanford-style
    /// alpaca.
    /// </summary>
    /// <exception cref="RecordFormatException">A field is missing or has the wrong type, or a role is unknown.</exception>
    /// <exception cref="ConfigurationException">Chat data without a chat template.</exception>
    public IReadOnlyList<IReadOnlyList<Segment>> Format(Record r) => format switch
    {
        DataFormat.Text => [[new Segment(Str(r, names.Text), true)]],
        DataFormat.Alpaca => Alpaca(r),
        DataFormat.Messages => [Chat(Messages(r))],
        DataFormat.PromptCompletion => [PromptCompletion(r)],
        _ => throw new InvalidOperationException(format.ToString()),
    };

    List<IReadOnlyList<Segment>> Alpaca(Record r)
    {
        string instruction = Str(r, names.Instruction);
        string? system = OptStr(r, names.System);
        var pairs = new List<(string? Input, string Output)>();
        if (r.TryGet(names.Output, out _)) pairs.Add((OptStr(r, names.Input), Str(r, names.Output)));
        else if (r.TryGet(names.Instances, out var inst) && inst.ValueKind == JsonValueKind.Array)
        {
            foreach (var i in inst.EnumerateArray())
            {
                if (i.ValueKind != JsonValueKind.Object) throw new RecordFormatException("wrong type", $"'{names.Instances}' items must be objects");
                pairs.Add((OptStr(i, names.Input, names.Instances), Str(i, names.Output, names.Instances)));
            }
        }
        else throw new RecordFormatException($"missing field '{names.Output}'", $"an alpaca record needs '{names.Output}' (or a list '{names.Instances}')");

        var examples = new List<IReadOnlyList<Segment>>();
        foreach (var (input, output) in pairs)
        {
            if (template is null or AlpacaTemplate)
            {
                examples.Add(AlpacaTemplate.RenderInstruction(instruction, input, output));
                continue;
            }
            var msgs = new List<ChatMessage>();
            if (system is not null) msgs.Add(new("system", system));
            msgs.Add(new("user", string.IsNullOrEmpty(input) ? instruction : $"{instruction}\n\n{input}"));
            msgs.Add(new("assistant", output));
            examples.Add(template.RenderSegments(msgs));
        }
        return examples;
    }

    IReadOnlyList<Segment> PromptCompletion(Record r)
    {
        if (!r.TryGet(names.Prompt, out var p)) throw Missing(names.Prompt);
        if (!r.TryGet(names.Completion, out var c)) throw Missing(names.Completion);
        if (p.ValueKind == JsonValueKind.String && c.ValueKind == JsonValueKind.String)
            return [new(p.GetString()!, false), new(c.GetString()!, true)];
        if (p.ValueKind == JsonValueKind.Array && c.ValueKind == JsonValueKind.Array)
            return Chat([.. MessageList(p, names.Prompt), .. MessageList(c, names.Completion)]);
        throw new RecordFormatException("wrong type", $"'{names.Prompt}' and '{names.Completion}' must both be strings or both lists of messages");
    }

    IReadOnlyList<Segment> Chat(List<ChatMessage> messages)
    {
        if (template is null)
            throw new ConfigurationException($"chat data needs a chat_template; set it to one of: {ChatTemplate.Names}");
        return template.RenderSegments(messages);
    }

    List<ChatMessage> Messages(Record r)
    {
        if (r.TryGet(names.Messages, out var m)) return MessageList(m, names.Messages);
        if (r.TryGet(names.Conversations, out var c)) return MessageList(c, names.Conversations);
        throw Missing(names.Messages);
    }

    static List<ChatMessage> MessageList(JsonElement list, string field)
    {
        if (list.ValueKind != JsonValueKind.Array) throw new RecordFormatException("wrong type", $"'{field}' must be a list of messages, found {list.ValueKind}");
        var result = new List<ChatMessage>();
        foreach (var m in list.EnumerateArray())
        {
            if (m.ValueKind != JsonValueKind.Object) throw new RecordFormatException("wrong type", $"'{field}' items must be objects");
            // OpenAI style {role, content} or ShareGPT style {from, value}.
            string role = m.TryGetProperty("role", out var r) ? AsString(r, "role") : m.TryGetProperty("from", out var f) ? AsString(f, "from")
                : throw new RecordFormatException("missing field 'role'", $"a message in '{field}' has neither 'role' nor 'from'");
            string content = m.TryGetProperty("content", out var ct) ? AsString(ct, "content") : m.TryGetProperty("value", out var v) ? AsString(v, "value")
                : throw new RecordFormatException("missing field 'content'", $"a message in '{field}' has neither 'content' nor 'value'");
            result.Add(new(NormalizeRole(role), content));
        }
        return result;
    }

    static string NormalizeRole(string role) => role.ToLowerInvariant() switch
    {
        "human" or "user" => "user",
        "gpt" or "assistant" or "bot" or "model" => "assistant",
        "system" => "system",
        _ => throw new RecordFormatException("bad role", $"unknown role '{role}' (expected system, user/human, assistant/gpt)"),
    };

    static string AsString(JsonElement e, string field) => e.ValueKind == JsonValueKind.String
        ? e.GetString()!
        : throw new RecordFormatException("wrong type", $"'{field}' must be a string, found {e.ValueKind}");

    static RecordFormatException Missing(string field) => new($"missing field '{field}'", $"the record has no '{field}'");

    static string Str(Record r, string field) => r.TryGet(field, out var v) ? AsString(v, field) : throw Missing(field);
    static string? OptStr(Record r, string field) => r.TryGet(field, out var v) ? AsString(v, field) : null;

    static string Str(JsonElement o, string field, string parent) =>
        o.TryGetProperty(field, out var v) && v.ValueKind != JsonValueKind.Null ? AsString(v, field) : throw Missing($"{parent}[].{field}");
    static string? OptStr(JsonElement o, string field, string parent) =>
        o.TryGetProperty(field, out var v) && v.ValueKind != JsonValueKind.Null ? AsString(v, $"{parent}[].{field}") : null;
}
