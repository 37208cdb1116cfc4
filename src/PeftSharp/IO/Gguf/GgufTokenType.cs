namespace PeftSharp.IO.Gguf;

/// <summary>tokenizer.ggml.token_type values (llama_token_type / gguf-py's TokenType).</summary>
public enum GgufTokenType
{
    /// <summary>An ordinary piece.</summary>
    Normal = 1,
    /// <summary>The unknown token.</summary>
    Unknown = 2,
    /// <summary>A control token (BOS, EOS, chat markers): never produced from text, left out of decoded text.</summary>
    Control = 3,
    /// <summary>A user-defined token, matched whole in the input.</summary>
    UserDefined = 4,
    /// <summary>An unused slot (e.g. padding rows of the embedding beyond the tokenizer's vocabulary).</summary>
    Unused = 5,
    /// <summary>A byte-fallback piece &lt;0xXX&gt;.</summary>
    Byte = 6,
}
