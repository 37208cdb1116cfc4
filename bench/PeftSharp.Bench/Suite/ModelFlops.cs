using PeftSharp.Models.Llama;

namespace PeftSharp.Bench.Suite;

/// <summary>
/// Model FLOPs per trained token: the arithmetic the method needs, not what an implementation happens to run (the
/// recomputation of activation checkpointing does not count). A matmul of an [in, out] weight is 2·in·out per token
/// forward; backward is 2x forward for a trained weight (input and weight gradients) and 1x for a frozen one (input
/// gradient only). Causal attention counts the half of the score matrix it needs: 2·T·d per layer forward for QKᵀ and
/// PV together, where d = heads·head_dim, and 3x that in training.
/// </summary>
public static class ModelFlops
{
    public static double PerToken(LlamaConfig c, string mode, int seq, int loraRank)
    {
        long h = c.HiddenSize, qd = (long)c.NumAttentionHeads * c.HeadDim, kvd = (long)c.NumKeyValueHeads * c.HeadDim, i = c.IntermediateSize;
        var linears = new List<(long In, long Out)> { (h, qd), (h, kvd), (h, kvd), (qd, h), (h, i), (h, i), (i, h) };
        double baseFwd = 0, adapterFwd = 0;
        foreach (var (inF, outF) in linears)
        {
            baseFwd += 2.0 * inF * outF * c.NumHiddenLayers;
            adapterFwd += 2.0 * loraRank * (inF + outF) * c.NumHiddenLayers;
        }
        baseFwd += 2.0 * h * c.VocabSize; // output head
        double attention = 3 * 2.0 * seq * qd * c.NumHiddenLayers;
        return mode == "full"
            ? 3 * baseFwd + attention
            : 2 * baseFwd + 3 * adapterFwd + attention;
    }
}
