using PeftSharp.Nn;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Linear = PeftSharp.Nn.Linear;

namespace PeftSharp.Adapters.Lora;

/// <summary>
/// LoRA (and DoRA) on a Linear, as PEFT defines it: h = W x + b + s · B(A(dropout(x))), with A (r x in)
/// Kaiming-uniform(a = √5), B (out x r) zero, s = alpha / r (alpha / √r with rsLoRA). Its tensors are registered
/// on the host under PEFT's names: <c>lora_A.&lt;adapter&gt;.weight</c>, <c>lora_B.&lt;adapter&gt;.weight</c> and, for DoRA,
/// <c>lora_magnitude_vector.&lt;adapter&gt;.weight</c>. Adapter tensors are fp32 whatever the base dtype (fp64 on an
/// fp64 base, for gradient checks).
/// </summary>
public sealed class LoraLinear : ILinearAdapter, IHasTrainingMode
{
    /// <summary>The adapter name it is registered under on the host layer.</summary>
    public string Name { get; }
    /// <summary>Rank r of the update.</summary>
    public int Rank { get; }
    /// <summary>lora_alpha of this layer (after alpha_pattern).</summary>
    public double Alpha { get; }
    /// <summary>s = alpha / r, or alpha / √r with rsLoRA.</summary>
    public double Scaling { get; }
    /// <summary>Dropout probability on the adapter's input while training.</summary>
    public double Dropout { get; }
    /// <summary>The dtype of the adapter's tensors: fp32, or fp64 on an fp64 base.</summary>
    public ScalarType DType { get; }
    /// <summary>The down projection A, in -> r without bias (PEFT's lora_A).</summary>
    public Linear A { get; }
    /// <summary>The up projection B, r -> out without bias, zero at init (PEFT's lora_B).</summary>
    public Linear B { get; }
    /// <summary>DoRA's per-output-row magnitude m, or null for plain LoRA.</summary>
    public Parameter? Magnitude => magnitude?.weight;
    readonly DoraMagnitude? magnitude;
    Tensor? mergedDoraFactor; // m / ||W + sBA|| used at merge time, kept so unmerge restores W exactly
    bool training;

    /// <summary>
    /// Creates the adapter on <paramref name="host"/> and registers it as adapter <paramref name="name"/>.
    /// </summary>
    /// <param name="host">The Linear to adapt (may be quantized).</param>
    /// <param name="name">Adapter name.</param>
    /// <param name="rank">Rank r.</param>
    /// <param name="alpha">lora_alpha.</param>
    /// <param name="rslora">Scale by alpha / √r instead of alpha / r.</param>
    /// <param name="dropout">Input dropout probability while training.</param>
    /// <param name="dora">Add DoRA's magnitude vector, initialised to the row norms of the base weight.</param>
    /// <param name="init">init_lora_weights: "true" (Kaiming-uniform A, zero B), "gaussian" (normal A with std 1/r,
    /// zero B) or "false" (both Kaiming-uniform).</param>
    /// <param name="generator">Random source for the init; null = torch's default generator.</param>
    public LoraLinear(Linear host, string name, int rank, double alpha, bool rslora, double dropout, bool dora, string init, Generator? generator = null)
    {
        Name = name;
        Rank = rank;
        Alpha = alpha;
        Scaling = rslora ? alpha / Math.Sqrt(rank) : alpha / rank;
        Dropout = dropout;
        DType = AdapterDType.For(host.weight.dtype);
        A = new Linear(host.InFeatures, rank, false, DType);
        B = new Linear(rank, host.OutFeatures, false, DType);
        Initialize(init, generator);
        ModuleSlots.On(host, "lora_A").AddModule(name, A);
        ModuleSlots.On(host, "lora_B").AddModule(name, B);
        if (dora)
        {
            magnitude = new DoraMagnitude(host.OutFeatures, DType);
            using (no_grad()) magnitude.weight.copy_(WeightNorm(host));
            ModuleSlots.On(host, "lora_magnitude_vector").AddModule(name, magnitude);
        }
        host.Adapters.Add(name, this);
    }

    void Initialize(string init, Generator? generator)
    {
        using var _ = no_grad();
        switch (init)
        {
            case "gaussian":
                A.weight.normal_(0, 1.0 / Rank, generator);
                B.weight.zero_();
                break;
            case "false":
                // PEFT leaves nn.Linear's own initialisation: Kaiming-uniform(a = √5) on both, so B is not zero.
                KaimingUniform(A.weight, generator);
                KaimingUniform(B.weight, generator);
                break;
            default:
                KaimingUniform(A.weight, generator);
                B.weight.zero_();
                break;
        }
    }

    /// <summary>Kaiming-uniform with a = √5, as torch.nn.Linear: bound = gain·√(3/fan_in) = 1/√fan_in.</summary>
    public static void KaimingUniform(Tensor w, Generator? generator)
    {
        double bound = 1.0 / Math.Sqrt(w.shape[1]);
        w.uniform_(-bound, bound, generator);
    }

    /// <summary>Whether dropout is applied (set by the model's train/eval switch).</summary>
    public bool Training
    {
        get => training;
        set => training = value;
    }

    /// <summary>s · B A as an (out x in) fp32 matrix.</summary>
    public Tensor DeltaWeight() => B.weight.matmul(A.weight) * Scaling;

    /// <summary>||W + s·B·A|| per output row (PEFT's DoRA weight norm), detached as in the paper's memory-saving variant.</summary>
    Tensor WeightNorm(Linear host)
    {
        using var scope = NewDisposeScope();
        var w = host.DenseWeight(DType) + DeltaWeight().detach();
        return w.norm(1, false, 2).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Training-time fast path (see <see cref="LoraLinearFunction"/>): plain LoRA on a frozen base with no dropout
    /// mask to draw. Inference keeps the unfused path, which runs the adapter in fp32 exactly as PEFT does.
    /// </summary>
    public Tensor? FusedForward(Tensor x, Linear host)
    {
        if (!FastPaths.FusedLora || magnitude is not null || (training && Dropout > 0) || !is_grad_enabled()) return null;
        if (host.weight.requires_grad || !(A.weight.requires_grad || B.weight.requires_grad)) return null;
        if (!x.is_floating_point() || (host.Quantized is null && x.dtype != host.weight.dtype)) return null;
        return LoraLinearFunction.Apply(x, A.weight, B.weight, host.bias, host, Scaling);
    }

    /// <inheritdoc/>
    public Tensor Apply(Tensor x, Tensor result, Linear host)
    {
        using var scope = NewDisposeScope();
        var input = x.to(DType);
        var dropped = training && Dropout > 0 ? nn.functional.dropout(input, Dropout, true) : input;
        var lora = B.forward(A.forward(dropped));
        Tensor outp;
        if (magnitude is null)
        {
            outp = result + (lora * Scaling).to(result.dtype);
        }
        else
        {
            // PEFT's DoRA: result + (m/||W+sBA|| - 1) · W x' + m/||W+sBA|| · s · B A x'. With dropout in training,
            // x' is the dropped input and W x' is recomputed; otherwise W x is the base result without its bias.
            var scale = (magnitude.weight / WeightNorm(host)).view(1, -1);
            Tensor baseNoBias;
            if (training && Dropout > 0) baseNoBias = nn.functional.linear(dropped, host.DenseWeight(DType));
            else baseNoBias = (host.bias is null ? result : result - host.bias).to(DType);
            var dora = (scale - 1) * baseNoBias + scale * lora * Scaling;
            outp = result + dora.to(result.dtype);
        }
        return outp.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Folds the update into the host's weight: W + s·B·A, or for DoRA m / ||W + s·B·A|| · (W + s·B·A) (a quantized
    /// base is re-quantized, rounding the change).
    /// </summary>
    public void Merge(Linear host)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var w = host.DenseWeight(DType);
        if (magnitude is null)
        {
            host.AssignWeight(w + DeltaWeight());
        }
        else
        {
            var factor = (magnitude.weight / WeightNorm(host)).view(-1, 1);
            mergedDoraFactor?.Dispose();
            mergedDoraFactor = factor.clone().DetachFromDisposeScope();
            host.AssignWeight(factor * (w + DeltaWeight()));
        }
    }

    /// <summary>Undoes <see cref="Merge"/> (exact up to rounding; DoRA uses the factor kept at merge time).</summary>
    /// <exception cref="PeftSharpException">A DoRA adapter that was not merged.</exception>
    public void Unmerge(Linear host)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var w = host.DenseWeight(DType);
        if (magnitude is null)
        {
            host.AssignWeight(w - DeltaWeight());
        }
        else
        {
            var factor = mergedDoraFactor ?? throw new PeftSharpException($"DoRA adapter '{Name}' was not merged, so it cannot be unmerged");
            host.AssignWeight(w / factor - DeltaWeight());
            mergedDoraFactor.Dispose();
            mergedDoraFactor = null;
        }
    }

    /// <inheritdoc/>
    public void Detach(Linear host)
    {
        host.Adapters.Remove(Name);
        ModuleSlots.RemoveFrom(host, Name, "lora_A", "lora_B", "lora_magnitude_vector");
        mergedDoraFactor?.Dispose();
    }
}

/// <summary>DoRA's magnitude vector as a module, so its state_dict key is PEFT's <c>lora_magnitude_vector.&lt;adapter&gt;.weight</c>.</summary>
public sealed class DoraMagnitude : nn.Module
{
#pragma warning disable IDE1006 // PEFT's parameter name
    /// <summary>The magnitude m, one entry per output row, initialised to the row norms of the base weight.</summary>
    public Parameter weight;
#pragma warning restore IDE1006

    /// <summary>
    /// A magnitude vector of <paramref name="size"/> ones in <paramref name="dtype"/>; the caller sets the row norms.
    /// </summary>
    public DoraMagnitude(int size, ScalarType dtype) : base("lora_magnitude_vector")
    {
        weight = new Parameter(ones(size, dtype: dtype));
        RegisterComponents();
    }
}

/// <summary>Adapters train in fp32 on bf16/fp32 bases; an fp64 base (gradient checks) keeps fp64.</summary>
public static class AdapterDType
{
    /// <summary>
    /// The adapter dtype for a base of <paramref name="baseDType"/>: Float64 for Float64, else Float32.
    /// </summary>
    public static ScalarType For(ScalarType baseDType) => baseDType == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
}
