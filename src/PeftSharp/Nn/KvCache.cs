using static TorchSharp.torch;

namespace PeftSharp.Nn;

/// <summary>
/// Keys and values of past positions for incremental decoding, one slot per layer, preallocated to a capacity
/// so each step writes in place instead of concatenating (which would copy the whole cache every token).
/// </summary>
public sealed class KvCache : IDisposable
{
    readonly Tensor?[] keys;
    readonly Tensor?[] values;
    readonly int capacity;

    /// <summary>Positions already stored (the same for every layer once a forward pass completes).</summary>
    public int Length { get; private set; }
    /// <summary>
    /// Maximum positions per layer (prompt + generated + virtual tokens); set at construction, storage allocated at the
    /// first append.
    /// </summary>
    public int Capacity => capacity;
    /// <summary>Leading positions the caller never passed (prompt tuning's virtual tokens): its masks cover the rest.</summary>
    public int VirtualLength { get; set; }

    /// <summary>
    /// An empty cache; each layer's [B, kvH, capacity, D] buffers are allocated on its first <see cref="Append"/>, in
    /// that call's dtype and device.
    /// </summary>
    /// <param name="numLayers">Decoder layers (HF num_hidden_layers).</param>
    /// <param name="capacity">Maximum positions, e.g. prompt length + max_new_tokens.</param>
    public KvCache(int numLayers, int capacity)
    {
        keys = new Tensor?[numLayers];
        values = new Tensor?[numLayers];
        this.capacity = capacity;
    }

    /// <summary>Stores k, v ([B, kvH, T, D]) after the current length and returns the full keys/values so far.</summary>
    public (Tensor Keys, Tensor Values) Append(int layer, Tensor k, Tensor v)
    {
        long t = k.shape[2];
        if (Length + t > capacity)
            throw new PeftSharpException($"KV cache capacity {capacity} exceeded ({Length} + {t} positions): create the cache with a larger capacity");
        if (keys[layer] is null)
        {
            keys[layer] = zeros(new[] { k.shape[0], k.shape[1], capacity, k.shape[3] }, k.dtype, k.device).DetachFromDisposeScope();
            values[layer] = zeros(new[] { v.shape[0], v.shape[1], capacity, v.shape[3] }, v.dtype, v.device).DetachFromDisposeScope();
        }
        keys[layer]!.narrow(2, Length, t).copy_(k);
        values[layer]!.narrow(2, Length, t).copy_(v);
        return (keys[layer]!.narrow(2, 0, Length + t), values[layer]!.narrow(2, 0, Length + t));
    }

    /// <summary>
    /// Keeps, for each batch row, the cached positions of row <paramref name="rows"/>[i] ([B] int64): beam search
    /// continues each surviving beam from the cache of the beam it extends.
    /// </summary>
    public void SelectRows(Tensor rows)
    {
        for (int l = 0; l < keys.Length; l++)
        {
            if (keys[l] is not { } k || values[l] is not { } v) continue;
            keys[l] = k.index_select(0, rows).DetachFromDisposeScope();
            values[l] = v.index_select(0, rows).DetachFromDisposeScope();
            k.Dispose();
            v.Dispose();
        }
    }

    /// <summary>Called by the model after all layers stored <paramref name="t"/> new positions.</summary>
    public void Advance(int t) => Length += t;

    /// <summary>Frees every layer's key and value buffers.</summary>
    public void Dispose()
    {
        foreach (var k in keys) k?.Dispose();
        foreach (var v in values) v?.Dispose();
    }
}
