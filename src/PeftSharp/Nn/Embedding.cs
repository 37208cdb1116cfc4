using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Nn;

/// <summary>Token embedding table with the checkpoint's parameter name (`weight`), uninitialised until loaded.</summary>
public sealed class Embedding : nn.Module<Tensor, Tensor>
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

    public override Tensor forward(Tensor ids)
    {
        var shape = ids.shape.Append(EmbeddingDim).ToArray();
        return weight.index_select(0, ids.reshape(-1)).reshape(shape);
    }
}
