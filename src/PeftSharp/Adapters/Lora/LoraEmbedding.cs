using PeftSharp.Nn;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Embedding = PeftSharp.Nn.Embedding;

namespace PeftSharp.Adapters.Lora;

/// <summary>
/// LoRA on an embedding table, as PEFT: h = E[ids] + s · (A^T[ids]) B^T with A (r x vocab) zero and B (dim x r)
/// normal, so the adapted model starts equal to the base. Registered as PEFT's <c>lora_embedding_A.&lt;adapter&gt;</c>
/// and <c>lora_embedding_B.&lt;adapter&gt;</c> parameters.
/// </summary>
public sealed class LoraEmbedding : IEmbeddingAdapter
{
    public string Name { get; }
    public int Rank { get; }
    public double Scaling { get; }
    public Parameter A { get; }
    public Parameter B { get; }

    public LoraEmbedding(Embedding host, string name, int rank, double alpha, bool rslora, string init, Generator? generator = null)
    {
        Name = name;
        Rank = rank;
        Scaling = rslora ? alpha / Math.Sqrt(rank) : alpha / rank;
        var dtype = AdapterDType.For(host.weight.dtype);
        A = new Parameter(zeros(rank, host.NumEmbeddings, dtype: dtype));
        B = new Parameter(empty(host.EmbeddingDim, rank, dtype: dtype));
        using (no_grad())
        {
            B.normal_(0, 1, generator);
            // init_lora_weights=false makes both random, so the adapter starts as a real change.
            if (init == "false") A.normal_(0, 1, generator);
        }
        ModuleSlots.On(host, "lora_embedding_A").AddParameter(name, A);
        ModuleSlots.On(host, "lora_embedding_B").AddParameter(name, B);
        host.Adapters.Add(name, this);
    }

    /// <summary>s · (B A)^T as a (vocab x dim) matrix.</summary>
    public Tensor DeltaWeight() => B.matmul(A).t() * Scaling;

    public Tensor Apply(Tensor ids, Tensor result, Embedding host)
    {
        using var scope = NewDisposeScope();
        var after = Embedding.Lookup(A.t(), ids);
        return (result + after.matmul(B.t()).mul(Scaling).to(result.dtype)).MoveToOuterDisposeScope();
    }

    public void Merge(Embedding host)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        host.weight.copy_(host.weight.to(A.dtype) + DeltaWeight());
    }

    public void Unmerge(Embedding host)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        host.weight.copy_(host.weight.to(A.dtype) - DeltaWeight());
    }

    public void Detach(Embedding host)
    {
        host.Adapters.Remove(Name);
        ModuleSlots.RemoveFrom(host, Name, "lora_embedding_A", "lora_embedding_B");
    }
}
