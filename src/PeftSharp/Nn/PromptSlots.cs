using static TorchSharp.torch;

namespace PeftSharp.Nn;

/// <summary>Prompt tuning's trainable virtual tokens, prepended to a model's input embeddings.</summary>
public interface IVirtualTokens
{
    /// <summary>Number of virtual tokens (PEFT's num_virtual_tokens).</summary>
    int Count { get; }
    /// <summary>The virtual tokens' embeddings for a batch: [batch, Count, hidden].</summary>
    Tensor Embeddings(long batch, ScalarType dtype, Device device);
}

/// <summary>Prefix tuning's trainable keys and values for one attention layer, placed before the real ones.</summary>
public interface IAttentionPrefix
{
    /// <summary>Number of prefix positions per layer (PEFT's num_virtual_tokens).</summary>
    int Length { get; }
    /// <summary>Keys and values [batch, kvHeads, Length, headDim], without rotary positions (as PEFT's past_key_values).</summary>
    (Tensor Keys, Tensor Values) KeysValues(long batch, ScalarType dtype, Device device);
}

/// <summary>A model that accepts virtual tokens before its input (its embedding table is used to initialise them from text).</summary>
public interface IVirtualTokenHost : IAdapterHost
{
    /// <summary>
    /// The attached prompt-tuning adapters; the running one's tokens are prepended to the input embeddings.
    /// </summary>
    AdapterSet<IVirtualTokens> VirtualTokens { get; }
    /// <summary>The model's hidden size: the width of each virtual token (PEFT's token_dim).</summary>
    int HiddenSize { get; }
    /// <summary>
    /// The model's token embedding table (to initialise virtual tokens from a text, PEFT's prompt_tuning_init TEXT).
    /// </summary>
    Embedding InputEmbeddings { get; }
}

/// <summary>An attention layer with a prefix slot: what a prefix must look like to fit it.</summary>
public interface IPrefixHost : IAdapterHost
{
    /// <summary>
    /// The attached prefix-tuning adapters; the running one's keys and values are placed before the layer's own.
    /// </summary>
    AdapterSet<IAttentionPrefix> Prefixes { get; }
    /// <summary>The layer's 0-based position in the decoder stack.</summary>
    int LayerIndex { get; }
    /// <summary>Query heads (PEFT's num_attention_heads in a prompt-tuning config).</summary>
    int AttentionHeads { get; }
    /// <summary>
    /// Key/value heads (HF num_key_value_heads; fewer than query heads under grouped-query attention).
    /// </summary>
    int KeyValueHeads { get; }
    /// <summary>Width of one attention head.</summary>
    int HeadDim { get; }
}
