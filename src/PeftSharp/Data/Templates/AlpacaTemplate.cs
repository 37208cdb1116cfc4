namespace PeftSharp.Data;

/// <summary>
/// The Stanford Alpaca prompt. A conversation renders each user turn as an instruction and each assistant turn as
/// its response; a system message replaces the preamble.
/// </summary>
public sealed class AlpacaTemplate : ChatTemplate
{
    public const string Preamble = "Below is an instruction that describes a task. Write a response that appropriately completes the request.";
    public const string PreambleWithInput = "Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.";

    public override string Name => "alpaca";

    /// <summary>The prompt exactly as Stanford Alpaca's PROMPT_DICT writes it, with or without input.</summary>
    public static string Prompt(string instruction, string? input) => string.IsNullOrEmpty(input)
        ? $"{Preamble}\n\n### Instruction:\n{instruction}\n\n### Response:\n"
        : $"{PreambleWithInput}\n\n### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n";

    public static IReadOnlyList<Segment> RenderInstruction(string instruction, string? input, string output) =>
        [new(Prompt(instruction, input), false), new(output, true)];

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
