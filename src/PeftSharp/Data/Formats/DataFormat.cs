namespace PeftSharp.Data;

public enum DataFormat
{
    /// <summary>Detected from the first record's fields.</summary>
    Auto,
    /// <summary>A "text" field; every token is trained.</summary>
    Text,
    /// <summary>instruction / input / output (or Stanford's seed-task shape: instruction + instances[{input, output}]).</summary>
    Alpaca,
    /// <summary>"messages" [{role, content}] or ShareGPT "conversations" [{from, value}].</summary>
    Messages,
    /// <summary>"prompt" / "completion" (strings, or TRL's conversational lists of messages).</summary>
    PromptCompletion,
}

public static class DataFormats
{
    public const string Names = "text, alpaca, messages, prompt_completion, auto";

    public static DataFormat Parse(string name) => name.ToLowerInvariant() switch
    {
        "auto" => DataFormat.Auto,
        "text" or "completion" => DataFormat.Text,
        "alpaca" or "instruction" => DataFormat.Alpaca,
        "messages" or "chat" or "sharegpt" or "conversations" => DataFormat.Messages,
        "prompt_completion" or "prompt-completion" => DataFormat.PromptCompletion,
        _ => throw new ConfigurationException($"unknown dataset format '{name}'; expected one of: {Names}"),
    };
}
