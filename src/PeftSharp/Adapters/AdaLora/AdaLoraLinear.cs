using PeftSharp.Adapters.Lora;
using PeftSharp.Nn;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Linear = PeftSharp.Nn.Linear;

namespace PeftSharp.Adapters.AdaLora;

/// <summary>
/// AdaLoRA's SVD-shaped update on a Linear, as PEFT's SVDLinear: h = W x + b + (dropout(x) (A∘E)ᵀ Bᵀ) · s / (ranknum + 1e-5),
/// with right singular vectors A (r x in), singular values E (r x 1) and left singular vectors B (out x r) registered as
/// bare parameters under PEFT's names (<c>lora_A.&lt;adapter&gt;</c>, <c>lora_E.&lt;adapter&gt;</c>, <c>lora_B.&lt;adapter&gt;</c>).
/// s is lora_alpha (or r when lora_alpha is 0); ranknum is the initial rank, not trained, not saved, and unchanged when
/// a saved adapter is rebuilt with fewer ranks, so the output stays the same. Init: E zero, A and B normal(0, 0.02).
/// </summary>
public sealed class AdaLoraLinear : ILinearAdapter, IHasTrainingMode
{
    /// <summary>Right singular vectors (r x in), singular values (r x 1), left singular vectors (out x r).</summary>
    public Parameter A { get; }
    /// <summary>
    /// Singular values (r x 1), PEFT's lora_E; zero at init, and zeroed for ranks the allocator prunes.
    /// </summary>
    public Parameter E { get; }
    /// <summary>Left singular vectors (out x r), PEFT's lora_B.</summary>
    public Parameter B { get; }
    /// <summary>The adapter name it is registered under on the host layer.</summary>
    public string Name { get; }
    /// <summary>The rank this layer was built with (init_r, or the kept ranks of a saved rank_pattern).</summary>
    public int Rank => (int)A.shape[0];
    /// <summary>PEFT's ranknum: the rank the scaling divides by (init_r).</summary>
    public int RankNum { get; }
    /// <summary>
    /// The numerator s of the scaling s / (ranknum + 1e-5): lora_alpha, or ranknum when lora_alpha is 0.
    /// </summary>
    public double Scaling { get; }
    /// <summary>Dropout probability applied to the input of the update while training.</summary>
    public double Dropout { get; }
    /// <summary>The dtype of A, E and B: fp32, or fp64 on an fp64 base (<see cref="Lora.AdapterDType"/>).</summary>
    public ScalarType DType => A.dtype;
    readonly Tensor rankDivisor; // ranknum + 1e-5 as a 1-element tensor in the adapter dtype, as PEFT computes it
    /// <summary>Whether dropout is applied (set by the model's train/eval switch).</summary>
    public bool Training { get; set; }

    /// <summary>
    /// Creates the triplet on <paramref name="host"/> and registers it as adapter <paramref name="name"/>.
    /// </summary>
    /// <param name="host">The Linear to adapt.</param>
    /// <param name="name">Adapter name.</param>
    /// <param name="rank">Ranks to create (init_r, or fewer when rebuilding a saved, pruned adapter).</param>
    /// <param name="rankNum">PEFT's ranknum, the scaling's divisor: init_r.</param>
    /// <param name="loraAlpha">lora_alpha; 0 uses <paramref name="rankNum"/>.</param>
    /// <param name="dropout">Input dropout probability during training.</param>
    /// <param name="initLoraWeights">AdaLoRA's init (E zero, A and B normal(0, 0.02)) when true; all random normal when
    /// false.</param>
    /// <param name="generator">Random source for the init; null = torch's default generator.</param>
    public AdaLoraLinear(Linear host, string name, int rank, int rankNum, double loraAlpha, double dropout, bool initLoraWeights, Generator? generator = null)
    {
        Name = name;
        RankNum = rankNum;
        Scaling = loraAlpha > 0 ? loraAlpha : rankNum;
        Dropout = dropout;
        var dtype = AdapterDType.For(host.weight.dtype);
        // Built on the CPU with the seeded generator; registration moves them to the host's device.
        using (no_grad())
        {
            A = new Parameter(randn(new long[] { rank, host.InFeatures }, dtype, generator: generator));
            E = new Parameter(randn(new long[] { rank, 1 }, dtype, generator: generator));
            B = new Parameter(randn(new long[] { host.OutFeatures, rank }, dtype, generator: generator));
            if (initLoraWeights)
            {
                E.zero_();
                A.normal_(0, 0.02, generator);
                B.normal_(0, 0.02, generator);
            }
            rankDivisor = (full(1, (double)rankNum, dtype, host.weight.device) + 1e-5).DetachFromDisposeScope();
        }
        A = ModuleSlots.On(host, "lora_A").AddParameter(name, A);
        E = ModuleSlots.On(host, "lora_E").AddParameter(name, E);
        B = ModuleSlots.On(host, "lora_B").AddParameter(name, B);
        host.Adapters.Add(name, this);
    }

    /// <summary>B (A∘E) · s / (ranknum + 1e-5) as an (out x in) matrix, PEFT's get_delta_weight.</summary>
    public Tensor DeltaWeight() => B.matmul(A * E) * Scaling / rankDivisor;

    /// <inheritdoc/>
    public Tensor Apply(Tensor x, Tensor result, Linear host)
    {
        using var scope = NewDisposeScope();
        var input = x.to(DType);
        var dropped = Training && Dropout > 0 ? nn.functional.dropout(input, Dropout, true) : input;
        var update = dropped.matmul((A * E).t()).matmul(B.t()) * Scaling / rankDivisor;
        return (result + update.to(result.dtype)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Adds <see cref="DeltaWeight"/> to the host's weight (a quantized base is re-quantized, rounding the change).
    /// </summary>
    public void Merge(Linear host)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        host.AssignWeight(host.DenseWeight(DType) + DeltaWeight());
    }

    /// <summary>
    /// Subtracts <see cref="DeltaWeight"/> from the host's weight, undoing <see cref="Merge"/> up to rounding.
    /// </summary>
    public void Unmerge(Linear host)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        host.AssignWeight(host.DenseWeight(DType) - DeltaWeight());
    }

    /// <inheritdoc/>
    public void Detach(Linear host)
    {
        host.Adapters.Remove(Name);
        ModuleSlots.RemoveFrom(host, Name, "lora_A", "lora_E", "lora_B");
        rankDivisor.Dispose();
    }
}
