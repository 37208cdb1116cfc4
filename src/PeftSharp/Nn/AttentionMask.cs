using static TorchSharp.torch;

namespace PeftSharp.Nn;

/// <summary>
/// Causal attention masks for scaled_dot_product_attention, built only when the fast is_causal path cannot be
/// used: padded batches, or several new tokens on top of a KV cache.
/// </summary>
public static class AttentionMask
{
    /// <summary>
    /// A boolean mask [B, 1, T, P+T] (true = may attend) for T new queries after P cached positions, or null when
    /// plain causal attention is exact. <paramref name="keyPadding"/> is the [B, P+T] 1/0 mask of real tokens.
    /// A query always sees its own key, so rows of padding queries never become all-masked (NaN softmax).
    /// </summary>
    public static Tensor? Build(long queryLength, long pastLength, Tensor? keyPadding, Device device)
    {
        bool padded = keyPadding is not null && keyPadding.eq(0).any().item<bool>();
        if (!padded && (pastLength == 0 || queryLength == 1)) return null;
        using var scope = NewDisposeScope();
        long total = pastLength + queryLength;
        var q = arange(pastLength, total, device: device).unsqueeze(1);  // [T,1]
        var k = arange(0, total, device: device).unsqueeze(0);           // [1,S]
        var causal = k.le(q);                                            // [T,S]
        var mask = causal.unsqueeze(0).unsqueeze(0);                     // [1,1,T,S]
        if (padded)
        {
            var valid = keyPadding!.to(ScalarType.Bool).unsqueeze(1).unsqueeze(1); // [B,1,1,S]
            mask = mask.logical_and(valid).logical_or(k.eq(q).unsqueeze(0).unsqueeze(0));
        }
        return mask.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The mask for packed rows: token q may attend key k when k &lt;= q and both belong to the same example
    /// (<paramref name="sequenceIds"/> [B, T], -1 on padding), so examples packed into one row never see each other.
    /// </summary>
    public static Tensor BuildPacked(Tensor sequenceIds)
    {
        using var scope = NewDisposeScope();
        long t = sequenceIds.shape[1];
        var idx = arange(t, device: sequenceIds.device);
        var causal = idx.unsqueeze(0).le(idx.unsqueeze(1));                                  // [T,T]: k <= q
        var same = sequenceIds.unsqueeze(2).eq(sequenceIds.unsqueeze(1));                     // [B,T,T]
        var valid = sequenceIds.ge(0).unsqueeze(1);                                           // [B,1,T] keys that are real
        var mask = same.logical_and(causal.unsqueeze(0)).logical_and(valid)
            .logical_or(idx.unsqueeze(0).eq(idx.unsqueeze(1)).unsqueeze(0));                  // always see yourself
        return mask.unsqueeze(1).MoveToOuterDisposeScope();
    }

    /// <summary>Position ids [B, T] for the new tokens: counted over real tokens only, so left padding is neutral.</summary>
    public static Tensor PositionIds(long queryLength, long pastLength, Tensor? keyPadding, long batch, Device device)
    {
        if (keyPadding is null)
            return arange(pastLength, pastLength + queryLength, dtype: ScalarType.Int64, device: device).unsqueeze(0).expand(batch, queryLength);
        using var scope = NewDisposeScope();
        var m = keyPadding.to(ScalarType.Int64);
        var pos = m.cumsum(-1) - 1;
        pos = pos.masked_fill(m.eq(0), 1);
        return pos.narrow(1, pastLength, queryLength).MoveToOuterDisposeScope();
    }
}
