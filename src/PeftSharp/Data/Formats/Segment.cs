namespace PeftSharp.Data;

/// <summary>A piece of an example's text; only trainable pieces count in the loss under completion-only masking.</summary>
public sealed record Segment(string Text, bool Trainable);

/// <summary>One chat turn; roles are "system", "user" and "assistant".</summary>
public sealed record ChatMessage(string Role, string Content);
