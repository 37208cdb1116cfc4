using System.Text;
using System.Text.Json;

namespace PeftSharp.Data;

/// <summary>
/// Renders a conversation as text segments; the assistant turns (with their end-of-turn marker) are the trainable
/// segments. <see cref="BosText"/> (e.g. "&lt;|begin_of_text|&gt;") is left out of <see cref="RenderSegments"/>
/// because the tokenizer adds BOS as an id; <see cref="Render"/> includes it, as HF's apply_chat_template does.
/// Special-token markers in the text become single ids only with tokenizers that declare them as added tokens.
/// </summary>
public abstract class ChatTemplate
{
    /// <summary>The accepted chat_template values, for error messages.</summary>
    public const string Names = "chatml, llama3, llama2 (also: mistral, inst), alpaca, or a custom format string with {user} and {assistant}";

    /// <summary>The template's name as written in configs (e.g. "chatml"; "custom" for a format string).</summary>
    public abstract string Name { get; }
    /// <summary>
    /// The beginning-of-sequence text <see cref="Render"/> puts first (e.g. "&lt;|begin_of_text|&gt;"); empty when the
    /// template has none. Not part of <see cref="RenderSegments"/>, because the tokenizer adds BOS as an id.
    /// </summary>
    public virtual string BosText => "";

    /// <summary>
    /// Renders a conversation as segments in order; assistant turns (with their end-of-turn marker) are trainable,
    /// everything else is prompt. BOS is not included.
    /// </summary>
    /// <param name="messages">The turns; roles are "system", "user" and "assistant".</param>
    /// <exception cref="RecordFormatException">A role is not valid at its place (e.g. a system message the template cannot show).</exception>
    public abstract IReadOnlyList<Segment> RenderSegments(IReadOnlyList<ChatMessage> messages);

    /// <summary>
    /// The whole conversation as one string, <see cref="BosText"/> first, like HF's
    /// tokenizer.apply_chat_template(tokenize=False).
    /// </summary>
    public string Render(IReadOnlyList<ChatMessage> messages)
    {
        var sb = new StringBuilder(BosText);
        foreach (var s in RenderSegments(messages)) sb.Append(s.Text);
        return sb.ToString();
    }

    /// <summary>The ChatML template (Qwen2, SmolLM): chat_template chatml (also qwen, qwen2, smollm).</summary>
    public static ChatTemplate ChatMl { get; } = new ChatMlTemplate();
    /// <summary>The Llama-3 header/eot template: chat_template llama3.</summary>
    public static ChatTemplate Llama3 { get; } = new Llama3Template();
    /// <summary>The Llama-2 / Mistral [INST] template: chat_template llama2 (also mistral, inst).</summary>
    public static ChatTemplate Llama2 { get; } = new Llama2Template();
    /// <summary>The Stanford Alpaca prompt as a template: chat_template alpaca.</summary>
    public static AlpacaTemplate Alpaca { get; } = new();

    /// <summary>A known name (case-insensitive) or, when the value contains "{user}", a custom format (see <see cref="CustomTemplate"/>).</summary>
    public static ChatTemplate Parse(string nameOrFormat)
    {
        if (nameOrFormat.Contains("{user}", StringComparison.Ordinal)) return new CustomTemplate(nameOrFormat);
        return nameOrFormat.Trim().ToLowerInvariant() switch
        {
            "chatml" or "qwen2" or "qwen" or "smollm" => ChatMl,
            "llama3" or "llama-3" or "llama3.1" => Llama3,
            "llama2" or "llama-2" or "mistral" or "inst" => Llama2,
            "alpaca" => Alpaca,
            _ => throw new ConfigurationException($"unknown chat_template '{nameOrFormat}'; expected one of: {Names}"),
        };
    }

    /// <summary>
    /// The known family whose markers appear in the Jinja chat_template of <c>folder/tokenizer_config.json</c>;
    /// a ConfigurationException when there is none or it is not recognised.
    /// </summary>
    public static ChatTemplate FromTokenizerConfig(string folder)
    {
        string path = Path.Combine(folder, "tokenizer_config.json");
        string? jinja = null;
        if (File.Exists(path))
        {
            var json = JsonReading.FromFile(path);
            if (json.Root.TryGetProperty("chat_template", out var t))
            {
                // Some files hold a list of named templates: take "default" or the first.
                if (t.ValueKind == JsonValueKind.String) jinja = t.GetString();
                else if (t.ValueKind == JsonValueKind.Array)
                    jinja = t.EnumerateArray().Select(e => e.TryGetProperty("template", out var v) ? v.GetString() : null).FirstOrDefault(s => s is not null);
            }
        }
        if (jinja is null)
            throw new ConfigurationException($"{path}: no chat_template; set the chat_template option to one of: {Names}");
        if (jinja.Contains("<|im_start|>", StringComparison.Ordinal)) return ChatMl;
        if (jinja.Contains("<|start_header_id|>", StringComparison.Ordinal)) return Llama3;
        if (jinja.Contains("[INST]", StringComparison.Ordinal)) return Llama2;
        if (jinja.Contains("### Instruction", StringComparison.Ordinal)) return Alpaca;
        throw new ConfigurationException(
            $"{path}: the chat_template is not one PeftSharp recognises (no ChatML, Llama-3, [INST] or Alpaca markers); set the chat_template option to one of: {Names}");
    }

    /// <summary>For templates: throws unless the message's role is one of <paramref name="roles"/>.</summary>
    /// <exception cref="RecordFormatException">The role is not one of them.</exception>
    protected static void RequireRole(ChatMessage m, params string[] roles)
    {
        if (!roles.Contains(m.Role))
            throw new RecordFormatException("bad role", $"role '{m.Role}' where {string.Join(" or ", roles)} was expected");
    }
}

/// <summary>A record that does not fit its format (missing field, wrong type, bad role order); reported with the record's location.</summary>
public sealed class RecordFormatException(string reason, string detail) : Exception($"{reason}: {detail}")
{
    /// <summary>
    /// A short category (e.g. "missing field 'output'", "wrong type"); records skipped are counted per reason.
    /// </summary>
    public string Reason { get; } = reason;
    /// <summary>The specifics of this record, for the message.</summary>
    public string Detail { get; } = detail;
}
