namespace PeftSharp.Data;

/// <summary>
/// How a record becomes prompt and response text: the dataset's format option (the shapes TRL's SFTTrainer and axolotl
/// accept).
/// </summary>
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

/// <summary>Names of <see cref="DataFormat"/>.</summary>
public static class DataFormats
{
    /// <summary>The accepted format names, for error messages.</summary>
    public const string Names = "text, alpaca, messages, prompt_completion, auto";

    /// <summary>
    /// Parses a format name, case-insensitive; aliases: completion (text), instruction (alpaca), chat / sharegpt /
    /// conversations (messages), prompt-completion.
    /// </summary>
    /// <exception cref="ConfigurationException">The name is unknown; the message lists the accepted ones.</exception>
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
