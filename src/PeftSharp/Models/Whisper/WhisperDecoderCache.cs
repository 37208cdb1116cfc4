using PeftSharp.Nn;
using static TorchSharp.torch;

namespace PeftSharp.Models.Whisper;

/// <summary>
/// What incremental decoding keeps between steps: the decoder's self-attention keys/values, which grow by one
/// position per step, and the cross-attention keys/values, computed once from the encoder output and reused.
/// </summary>
public sealed class WhisperDecoderCache : IDisposable
{
    readonly Tensor?[] crossKeys;
    readonly Tensor?[] crossValues;

    /// <summary>Self-attention keys and values of the positions decoded so far.</summary>
    public KvCache Self { get; }

    /// <summary>Positions already decoded.</summary>
    public int Length => Self.Length;

    /// <summary>An empty cache.</summary>
    /// <param name="decoderLayers">The decoder's layer count.</param>
    /// <param name="capacity">Most positions it can hold (prefix plus new tokens), at most
    /// max_target_positions.</param>
    public WhisperDecoderCache(int decoderLayers, int capacity)
    {
        Self = new KvCache(decoderLayers, capacity);
        crossKeys = new Tensor?[decoderLayers];
        crossValues = new Tensor?[decoderLayers];
    }

    /// <summary>The layer's cross-attention keys/values, computed by <paramref name="compute"/> on first use.</summary>
    public (Tensor Keys, Tensor Values) CrossKeysValues(int layer, Func<(Tensor Keys, Tensor Values)> compute)
    {
        if (crossKeys[layer] is null)
        {
            var (k, v) = compute();
            crossKeys[layer] = k.detach().DetachFromDisposeScope();
            crossValues[layer] = v.detach().DetachFromDisposeScope();
        }
        return (crossKeys[layer]!.alias(), crossValues[layer]!.alias());
    }

    /// <summary>
    /// Row i continues from row <paramref name="rows"/>[i] (beam search). The rows picked must share their encoder
    /// output (beams of one clip), so the cross-attention keys stay as they are.
    /// </summary>
    public void SelectRows(Tensor rows) => Self.SelectRows(rows);

    /// <summary>Releases the cached keys and values.</summary>
    public void Dispose()
    {
        Self.Dispose();
        foreach (var t in crossKeys.Concat(crossValues)) t?.Dispose();
    }
}
