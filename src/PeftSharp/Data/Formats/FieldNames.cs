namespace PeftSharp.Data;

/// <summary>The record fields each format reads; override them when a dataset uses other names.</summary>
public sealed record FieldNames
{
    public string Text { get; init; } = "text";
    public string Instruction { get; init; } = "instruction";
    public string Input { get; init; } = "input";
    public string Output { get; init; } = "output";
    /// <summary>Stanford's seed tasks: a list of {input, output} per instruction.</summary>
    public string Instances { get; init; } = "instances";
    public string System { get; init; } = "system";
    public string Messages { get; init; } = "messages";
    /// <summary>ShareGPT's list of {from, value}.</summary>
    public string Conversations { get; init; } = "conversations";
    public string Prompt { get; init; } = "prompt";
    public string Completion { get; init; } = "completion";
}
