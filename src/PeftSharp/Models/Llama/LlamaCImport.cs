using PeftSharp.IO.LlamaC;

namespace PeftSharp.Models.Llama;

/// <summary>The Llama configuration a llama2.c checkpoint header describes.</summary>
public static class LlamaCImport
{
    /// <summary>
    /// The Llama configuration equivalent to a llama2.c header: its sizes, a head tied to the embeddings when the
    /// header says the classifier is shared, and llama2.c's fixed constants (rms_norm_eps 1e-5, rope_theta 10000, BOS
    /// 1, EOS 2, fp32).
    /// </summary>
    public static LlamaConfig ConfigFrom(LlamaCHeader h) => new()
    {
        ModelType = "llama",
        VocabSize = h.VocabSize,
        HiddenSize = h.Dim,
        IntermediateSize = h.HiddenDim,
        NumHiddenLayers = h.NumLayers,
        NumAttentionHeads = h.NumHeads,
        NumKeyValueHeads = h.NumKvHeads,
        HeadDim = h.HeadDim,
        MaxPositionEmbeddings = h.SeqLen,
        RmsNormEps = 1e-5,          // llama2.c's constant
        RopeTheta = 10000.0,        // llama2.c's constant
        TieWordEmbeddings = h.SharedClassifier,
        TorchDtype = "float32",
        BosTokenId = 1,
        EosTokenIds = new[] { 2 },
    };
}
