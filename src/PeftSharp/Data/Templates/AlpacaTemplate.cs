namespace PeftSharp.Data;

/// <summary>
/// The Stanford Alpaca prompt. A conversation renders each user turn as an instruction and each assistant turn as
/// its response; a system message replaces the preamble.
/// </summary>
public sealed class AlpacaTemplate : ChatTemplate
{
    /// <summary>The Alpaca preamble for an instruction without input (Stanford Alpaca's prompt_no_input).</summary>
    public const string Preamble = "Below is an instruction that describes a task. Write a response that appropriately completes the request.";
    /// <summary>The Alpaca preamble for an instruction with an input (Stanford Alpaca's prompt_input).</summary>
    public const string PreambleWithInput = "Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.";

    /// <inheritdoc/>
    public override string Name => "alpaca";

    /// <summary>The prompt exactly as Stanford Alpaca's PROMPT_DICT writes it, with or without input.</summary>
    public static string Prompt(string instruction, string? input) => string.IsNullOrEmpty(input)
        ? $"{Preamble}\n\n### Instruction:\n{instruction}\n\n### Response:\n"
        : $"{PreambleWithInput}\n\n### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n";

    /// <summary>
    /// One alpaca record as segments: the <see cref="Prompt"/> (not trained) and the output (trained). No EOS is added
    /// here; the tokenizer step adds it.
    /// </summary>
    /// <param name="instruction">The task.</param>
    /// <param name="input">Optional context; null or empty selects the no-input prompt.</param>
    /// <param name="output">The response to train on.</param>
    public static IReadOnlyList<Segment> RenderInstruction(string instruction, string? input, string output) =>
        [new(Prompt(instruction, input), false), new(output, true)];

    /// <inheritdoc/>
    public override IReadOnlyList<Segment> RenderSegments(IReadOnlyList<ChatMessage> messages)
    {
        var list = new List<Segment>();
        int i = 0;
        string preamble = Preamble;
        if (messages.Count > 0 && messages[0].Role == "system") { preamble = messages[0].Content; i = 1; }
        list.Add(new(preamble + "\n\n", false));
        bool afterResponse = false;
        for (; i < messages.Count; i++)
        {
            var m = messages[i];
            if (m.Role == "user")
            {
                list.Add(new($"{(afterResponse ? "\n\n" : "")}### Instruction:\n{m.Content}\n\n### Response:\n", false));
                afterResponse = false;
            }
            else
            {
                RequireRole(m, "user", "assistant");
                list.Add(new(m.Content, true));
                afterResponse = true;
            }
        }
        return list;
    }
}
