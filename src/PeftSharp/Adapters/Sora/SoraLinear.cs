using PeftSharp.Adapters.Lora;
using PeftSharp.Nn;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Linear = PeftSharp.Nn.Linear;

namespace PeftSharp.Adapters.Sora;

/// <summary>
/// SoRA on a Linear (Ding et al. 2023): LoRA with a gate g between its projections,
/// h = W x + b + s · ((dropout(x) Aᵀ) ⊙ g) Bᵀ with s = lora_alpha / r. A [r, in] is Kaiming-uniform as LoRA's, B
/// [out, r] zero, g [1, r] standard normal (the official implementation's torch.randn(1, r)) or ones. Registered under
/// PEFT-style names: <c>lora_A.&lt;adapter&gt;.weight</c>, <c>lora_B.&lt;adapter&gt;.weight</c>, <c>sora_gate.&lt;adapter&gt;</c>.
/// The proximal step (<see cref="SoraTraining"/>) drives gate entries to exactly zero; those ranks are pruned on export.
/// </summary>
public sealed class SoraLinear : ILinearAdapter, IHasTrainingMode
{
    /// <summary>The adapter name it is registered under on the host layer.</summary>
    public string Name { get; }
    /// <summary>Maximum rank r (live ranks are those with a non-zero gate).</summary>
    public int Rank { get; }
    /// <summary>s = lora_alpha / r.</summary>
    public double Scaling { get; }
    /// <summary>Dropout probability on the adapter's input while training.</summary>
    public double Dropout { get; }
    /// <summary>The dtype of the adapter's tensors: fp32, or fp64 on an fp64 base.</summary>
    public ScalarType DType { get; }
    /// <summary>The down projection A, in -> r without bias (lora_A).</summary>
    public Linear A { get; }
    /// <summary>The up projection B, r -> out without bias, zero at init (lora_B).</summary>
    public Linear B { get; }
    /// <summary>
    /// The gate g [1, r] between A and B (sora_gate); entries the proximal step sets to zero switch their rank off.
    /// </summary>
    public Parameter Gate { get; }
    /// <summary>Whether dropout is applied (set by the model's train/eval switch).</summary>
    public bool Training { get; set; }

    /// <summary>
    /// Creates the adapter on <paramref name="host"/> and registers it as adapter <paramref name="name"/>.
    /// </summary>
    /// <param name="host">The Linear to adapt (may be quantized).</param>
    /// <param name="name">Adapter name.</param>
    /// <param name="rank">Maximum rank r.</param>
    /// <param name="alpha">lora_alpha.</param>
    /// <param name="dropout">Input dropout probability while training.</param>
    /// <param name="initGate">"normal" (standard normal gate) or "ones".</param>
    /// <param name="generator">Random source for the init; null = torch's default generator.</param>
    public SoraLinear(Linear host, string name, int rank, double alpha, double dropout, string initGate, Generator? generator = null)
    {
        Name = name;
        Rank = rank;
        Scaling = alpha / rank;
        Dropout = dropout;
        DType = AdapterDType.For(host.weight.dtype);
        A = new Linear(host.InFeatures, rank, false, DType);
        B = new Linear(rank, host.OutFeatures, false, DType);
        using (no_grad())
        {
            LoraLinear.KaimingUniform(A.weight, generator);
            B.weight.zero_();
        }
        Gate = new Parameter(initGate == "ones" ? ones(1, rank, DType) : randn(new long[] { 1, rank }, DType, generator: generator));
        ModuleSlots.On(host, "lora_A").AddModule(name, A);
        ModuleSlots.On(host, "lora_B").AddModule(name, B);
        Gate = ModuleSlots.On(host, "sora_gate").AddParameter(name, Gate);
        host.Adapters.Add(name, this);
    }

    /// <inheritdoc/>
    public Tensor Apply(Tensor x, Tensor result, Linear host)
    {
        using var scope = NewDisposeScope();
        var input = x.to(DType);
        var dropped = Training && Dropout > 0 ? nn.functional.dropout(input, Dropout, true) : input;
        var gated = A.forward(dropped) * Gate.flatten();
        return (result + (B.forward(gated) * Scaling).to(result.dtype)).MoveToOuterDisposeScope();
    }

    /// <summary>s · B diag(g) A as an [out, in] matrix.</summary>
    public Tensor DeltaWeight() => (B.weight * Gate).matmul(A.weight) * Scaling;

    /// <summary>The ranks whose gate is not exactly zero.</summary>
    public long[] LiveRanks()
    {
        using var _ = no_grad();
        using var nz = Gate.detach().flatten().nonzero().flatten();
        return nz.data<long>().ToArray();
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
        ModuleSlots.RemoveFrom(host, Name, "lora_A", "lora_B", "sora_gate");
    }
}
