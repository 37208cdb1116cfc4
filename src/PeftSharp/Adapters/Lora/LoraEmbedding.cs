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
    /// <summary>The adapter name it is registered under on the host table.</summary>
    public string Name { get; }
    /// <summary>Rank r of the update.</summary>
    public int Rank { get; }
    /// <summary>s = alpha / r, or alpha / √r with rsLoRA.</summary>
    public double Scaling { get; }
    /// <summary>A, r x vocab, zero at init (PEFT's lora_embedding_A).</summary>
    public Parameter A { get; }
    /// <summary>B, dim x r, standard normal at init (PEFT's lora_embedding_B).</summary>
    public Parameter B { get; }

    /// <summary>
    /// Creates A and B on <paramref name="host"/> and registers them as adapter <paramref name="name"/>.
    /// </summary>
    /// <param name="host">The embedding table to adapt.</param>
    /// <param name="name">Adapter name.</param>
    /// <param name="rank">Rank r.</param>
    /// <param name="alpha">lora_alpha.</param>
    /// <param name="rslora">Scale by alpha / √r instead of alpha / r.</param>
    /// <param name="init">init_lora_weights: "false" makes A random too, so the adapter starts as a real change; other
    /// values keep A zero.</param>
    /// <param name="generator">Random source for the init; null = torch's default generator.</param>
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
        A = ModuleSlots.On(host, "lora_embedding_A").AddParameter(name, A);
        B = ModuleSlots.On(host, "lora_embedding_B").AddParameter(name, B);
        host.Adapters.Add(name, this);
    }

    /// <summary>s · (B A)^T as a (vocab x dim) matrix.</summary>
    public Tensor DeltaWeight() => B.matmul(A).t() * Scaling;

    /// <inheritdoc/>
    public Tensor Apply(Tensor ids, Tensor result, Embedding host)
    {
        using var scope = NewDisposeScope();
        var after = Embedding.Lookup(A.t(), ids);
        return (result + after.matmul(B.t()).mul(Scaling).to(result.dtype)).MoveToOuterDisposeScope();
    }

    /// <summary>Adds <see cref="DeltaWeight"/> to the table.</summary>
    public void Merge(Embedding host)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        host.weight.copy_(host.weight.to(A.dtype) + DeltaWeight());
    }

    /// <summary>
    /// Subtracts <see cref="DeltaWeight"/> from the table, undoing <see cref="Merge"/> up to rounding.
    /// </summary>
    public void Unmerge(Embedding host)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        host.weight.copy_(host.weight.to(A.dtype) - DeltaWeight());
    }

    /// <inheritdoc/>
    public void Detach(Embedding host)
    {
        host.Adapters.Remove(Name);
        ModuleSlots.RemoveFrom(host, Name, "lora_embedding_A", "lora_embedding_B");
    }
}
