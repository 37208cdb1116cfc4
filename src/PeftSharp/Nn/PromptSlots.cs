using static TorchSharp.torch;

namespace PeftSharp.Nn;

/// <summary>Prompt tuning's trainable virtual tokens, prepended to a model's input embeddings.</summary>
public interface IVirtualTokens
{
    int Count { get; }
    /// <summary>The virtual tokens' embeddings for a batch: [batch, Count, hidden].</summary>
    Tensor Embeddings(long batch, ScalarType dtype, Device device);
}

/// <summary>Prefix tuning's trainable keys and values for one attention layer, placed before the real ones.</summary>
public interface IAttentionPrefix
{
    int Length { get; }
    /// <summary>Keys and values [batch, kvHeads, Length, headDim], without rotary positions (as PEFT's past_key_values).</summary>
    (Tensor Keys, Tensor Values) KeysValues(long batch, ScalarType dtype, Device device);
}

/// <summary>A model that accepts virtual tokens before its input (its embedding table is used to initialise them from text).</summary>
public interface IVirtualTokenHost : IAdapterHost
{
    AdapterSet<IVirtualTokens> VirtualTokens { get; }
    int HiddenSize { get; }
    Embedding InputEmbeddings { get; }
}

/// <summary>An attention layer with a prefix slot: what a prefix must look like to fit it.</summary>
public interface IPrefixHost : IAdapterHost
{
    AdapterSet<IAttentionPrefix> Prefixes { get; }
    int LayerIndex { get; }
    /// <summary>Query heads (PEFT's num_attention_heads in a prompt-tuning config).</summary>
    int AttentionHeads { get; }
    int KeyValueHeads { get; }
    int HeadDim { get; }
}
