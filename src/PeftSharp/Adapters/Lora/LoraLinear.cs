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
    public string Name { get; }
    public int Rank { get; }
    public double Alpha { get; }
    public double Scaling { get; }
    public double Dropout { get; }
    public ScalarType DType { get; }
    public Linear A { get; }
    public Linear B { get; }
    /// <summary>DoRA's per-output-row magnitude m, or null for plain LoRA.</summary>
    public Parameter? Magnitude => magnitude?.weight;
    readonly DoraMagnitude? magnitude;
    Tensor? mergedDoraFactor; // m / ||W + sBA|| used at merge time, kept so unmerge restores W exactly
    bool training;

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
    public Parameter weight;
#pragma warning restore IDE1006

    public DoraMagnitude(int size, ScalarType dtype) : base("lora_magnitude_vector")
    {
        weight = new Parameter(ones(size, dtype: dtype));
        RegisterComponents();
    }
}

/// <summary>Adapters train in fp32 on bf16/fp32 bases; an fp64 base (gradient checks) keeps fp64.</summary>
public static class AdapterDType
{
    public static ScalarType For(ScalarType baseDType) => baseDType == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
}
