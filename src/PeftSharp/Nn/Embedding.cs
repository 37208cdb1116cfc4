using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Nn;

/// <summary>Token embedding table with the checkpoint's parameter name (`weight`), uninitialised until loaded.</summary>
public sealed class Embedding : nn.Module<Tensor, Tensor>, IAdapterHost
{
    public int NumEmbeddings { get; }
    public int EmbeddingDim { get; }
    public Parameter weight;

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

    public Tensor BaseForward(Tensor ids) => Lookup(weight, ids);

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
