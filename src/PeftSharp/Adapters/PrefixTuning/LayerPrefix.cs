using PeftSharp.Nn;
using static TorchSharp.torch;

namespace PeftSharp.Adapters.PrefixTuning;

/// <summary>
/// One attention layer's view of a <see cref="PrefixEncoder"/>: its keys and values [B, kvHeads, n, headDim] from the
/// encoder's column blocks 2l and 2l+1, as PEFT's view(B, n, 2L, kvH, D).permute(2, 0, 3, 1, 4).split(2).
/// </summary>
public sealed class LayerPrefix : IAttentionPrefix, IDetachable
{
    readonly IPrefixHost host;
    readonly string adapterName;

    /// <summary>The encoder holding every layer's prefix (shared by all the layers' views).</summary>
    public PrefixEncoder Encoder { get; }
    /// <summary>Index of the attention layer this view serves.</summary>
    public int Layer { get; }
    /// <summary>Number of prefix positions (the virtual tokens).</summary>
    public int Length => Encoder.VirtualTokens;

    internal LayerPrefix(PrefixEncoder encoder, IPrefixHost host, string adapterName)
    {
        Encoder = encoder;
        this.host = host;
        this.adapterName = adapterName;
        Layer = host.LayerIndex;
        encoder.AddView();
    }

    /// <inheritdoc/>
    public (Tensor Keys, Tensor Values) KeysValues(long batch, ScalarType dtype, Device device)
    {
        using var scope = NewDisposeScope();
        var kv = Encoder.LayerColumns(Layer)
            .view(Length, 2, Encoder.KeyValueHeads, Encoder.HeadDim)
            .permute(1, 2, 0, 3)                      // [2, kvH, n, D]
            .to(dtype, device)
            .unsqueeze(1).expand(2, batch, -1, -1, -1); // [2, B, kvH, n, D]
        return (kv[0].MoveToOuterDisposeScope(), kv[1].MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Removes this view from its attention layer; the encoder unregisters itself once its last view is gone.
    /// </summary>
    public void Detach()
    {
        if (host.Prefixes.Get(adapterName) is not null) host.Prefixes.Remove(adapterName);
        Encoder.ReleaseView();
    }
}
