using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Nn;

/// <summary>Token embedding table with the checkpoint's parameter name (`weight`), uninitialised until loaded.</summary>
public sealed class Embedding : nn.Module<Tensor, Tensor>, IAdapterHost
{
    /// <summary>Rows of the table: the vocabulary size (HF vocab_size).</summary>
    public int NumEmbeddings { get; }
    /// <summary>Width of each row: the model's hidden size.</summary>
    public int EmbeddingDim { get; }
    /// <summary>
    /// The table, [NumEmbeddings, EmbeddingDim]; the checkpoint key ends in "weight" (e.g. model.embed_tokens.weight).
    /// </summary>
    public Parameter weight;

    /// <summary>An uninitialised table (torch.empty) to be filled from a checkpoint.</summary>
    /// <param name="numEmbeddings">Vocabulary size.</param>
    /// <param name="embeddingDim">Hidden size.</param>
    /// <param name="dtype">Storage dtype of the table; default fp32 (models usually pass bf16).</param>
    public Embedding(int numEmbeddings, int embeddingDim, ScalarType dtype = ScalarType.Float32) : base(nameof(Embedding))
    {
        NumEmbeddings = numEmbeddings;
        EmbeddingDim = embeddingDim;
        weight = new Parameter(empty(numEmbeddings, embeddingDim, dtype: dtype));
        RegisterComponents();
    }

    /// <summary>Adapters attached to this layer, applied after the lookup in attach order.</summary>
    public AdapterSet<IEmbeddingAdapter> Adapters { get; } = new();
    IAdapterSwitches IAdapterHost.Switches => Adapters;

    /// <summary>Rows of <paramref name="table"/> for the ids, shaped like ids + [dim].</summary>
    public static Tensor Lookup(Tensor table, Tensor ids)
    {
        var shape = ids.shape.Append(table.shape[1]).ToArray();
        return table.index_select(0, ids.reshape(-1)).reshape(shape);
    }

    /// <summary>
    /// The frozen lookup without adapters: rows of <see cref="weight"/> for <paramref name="ids"/> (int64, any shape),
    /// shaped ids + [EmbeddingDim].
    /// </summary>
    public Tensor BaseForward(Tensor ids) => Lookup(weight, ids);

    /// <summary>
    /// The lookup with the running adapters applied in attach order (an adapter that replaces the base skips the
    /// lookup).
    /// </summary>
    /// <param name="ids">Token ids, int64, any shape (usually [B, T]).</param>
    /// <returns>Embeddings shaped ids + [EmbeddingDim], in the table's dtype.</returns>
    public override Tensor forward(Tensor ids)
    {
        Tensor? result = null;
        foreach (var a in Adapters.Running())
        {
            if (result is null && !a.ReplacesBase) result = BaseForward(ids);
            result = a.Apply(ids, result!, this);
        }
        return result ?? BaseForward(ids);
    }
}
