namespace PeftSharp.Data;

/// <summary>The record fields each format reads; override them when a dataset uses other names.</summary>
public sealed record FieldNames
{
    /// <summary>The text format's field; default "text".</summary>
    public string Text { get; init; } = "text";
    /// <summary>Alpaca's instruction field; default "instruction".</summary>
    public string Instruction { get; init; } = "instruction";
    /// <summary>Alpaca's optional input (context) field; default "input".</summary>
    public string Input { get; init; } = "input";
    /// <summary>Alpaca's response field (trained); default "output".</summary>
    public string Output { get; init; } = "output";
    /// <summary>Stanford's seed tasks: a list of {input, output} per instruction.</summary>
    public string Instances { get; init; } = "instances";
    /// <summary>
    /// An optional system prompt of an alpaca record, rendered when a chat template is used; default "system".
    /// </summary>
    public string System { get; init; } = "system";
    /// <summary>The messages format's list of {role, content}; default "messages".</summary>
    public string Messages { get; init; } = "messages";
    /// <summary>ShareGPT's list of {from, value}.</summary>
    public string Conversations { get; init; } = "conversations";
    /// <summary>The prompt of prompt/completion data (not trained); default "prompt".</summary>
    public string Prompt { get; init; } = "prompt";
    /// <summary>The completion of prompt/completion data (trained); default "completion".</summary>
    public string Completion { get; init; } = "completion";
}
