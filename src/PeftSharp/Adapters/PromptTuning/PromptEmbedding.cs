using PeftSharp.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Adapters.PromptTuning;

#pragma warning disable IDE1006 // the field carries PEFT's name so the parameter is prompt_encoder.<adapter>.embedding.weight

/// <summary>
/// Prompt tuning's virtual tokens (PEFT's PromptEmbedding): an fp32 table [n, hidden] registered on the model root as
/// <c>prompt_encoder.&lt;adapter&gt;.embedding.weight</c> and prepended, cast to the model's dtype, to every input.
/// </summary>
public sealed class PromptEmbedding : nn.Module, IVirtualTokens, IDetachable
{
    /// <summary>The virtual-token table [n, hidden] (fp32; PEFT's prompt_encoder.&lt;adapter&gt;.embedding).</summary>
    public TorchSharp.Modules.Embedding embedding;
    // Not module-typed fields: TorchSharp treats those as submodules, and the root/host would make a cycle.
    readonly Action detach;

    /// <summary>The adapter's config with the model's dimensions filled in (what is saved).</summary>
    public PromptTuningConfig Config { get; }

    internal PromptEmbedding(nn.Module root, IVirtualTokenHost host, string adapterName, PromptTuningConfig config) : base(adapterName)
    {
        detach = () =>
        {
            if (host.VirtualTokens.Get(adapterName) is not null) host.VirtualTokens.Remove(adapterName);
            PromptLearningConfig.Unregister(root, adapterName);
        };
        Config = config;
        embedding = nn.Embedding(config.NumVirtualTokens, config.TokenDim!.Value, dtype: ScalarType.Float32);
        RegisterComponents();
    }

    /// <summary>Number of virtual tokens n.</summary>
    public int Count => (int)embedding.weight!.shape[0];

    /// <summary>The table [n, hidden] (fp32, trainable).</summary>
    public Tensor Weight => embedding.weight!;

    /// <inheritdoc/>
    public Tensor Embeddings(long batch, ScalarType dtype, Device device) =>
        Weight.to(dtype, device).unsqueeze(0).expand(batch, -1, -1);

    /// <summary>Removes the virtual tokens from the model's slot and the table from the model root.</summary>
    public void Detach() => detach();
}
