using PeftSharp.Adapters.Lora;
using PeftSharp.Nn;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Linear = PeftSharp.Nn.Linear;

namespace PeftSharp.Adapters.Ia3;

/// <summary>
/// IA3 on a Linear, as PEFT defines it: a learned vector l (bare parameter <c>ia3_l.&lt;adapter&gt;</c>, PEFT key
/// <c>&lt;layer&gt;.ia3_l</c>). On a feed-forward layer l is [1, in] and scales the input, h = base(x ⊙ l); elsewhere it is
/// [out, 1] and scales the whole output, bias included, h = base(x) ⊙ l. The vector is fp32 (fp64 on an fp64 base) and
/// the base may be quantized: the scaling happens around its matmul.
/// </summary>
public sealed class Ia3Linear : ILinearAdapter
{
    /// <summary>PEFT adds this to l before dividing when it unmerges (so a zero entry does not give inf).</summary>
    public const double UnmergeEpsilon = 1e-8;

    /// <summary>The adapter name it is registered under on the host layer.</summary>
    public string Name { get; }
    /// <summary>
    /// True when the vector scales the layer's input ([1, in]); false when it scales the output ([out, 1]).
    /// </summary>
    public bool FeedForward { get; }
    /// <summary>The vector's dtype: fp32, or fp64 on an fp64 base.</summary>
    public ScalarType DType { get; }
    /// <summary>
    /// The learned scaling vector l: [1, in] on a feed-forward layer, [out, 1] otherwise (PEFT's ia3_l).
    /// </summary>
    public Parameter Vector { get; }

    /// <summary>
    /// Creates the vector on <paramref name="host"/> and registers it as adapter <paramref name="name"/>.
    /// </summary>
    /// <param name="host">The Linear to adapt.</param>
    /// <param name="name">Adapter name.</param>
    /// <param name="feedForward">Scale the input (feed-forward modules) rather than the output.</param>
    /// <param name="initOnes">Start at ones, so the layer is unchanged (init_ia3_weights); false draws standard normal
    /// values.</param>
    /// <param name="generator">Random source when <paramref name="initOnes"/> is false.</param>
    public Ia3Linear(Linear host, string name, bool feedForward, bool initOnes, Generator? generator = null)
    {
        Name = name;
        FeedForward = feedForward;
        DType = AdapterDType.For(host.weight.dtype);
        long[] shape = feedForward ? new long[] { 1, host.InFeatures } : new long[] { host.OutFeatures, 1 };
        // PEFT: ones with init_ia3_weights, else the standard normal it was created with.
        Vector = new Parameter(initOnes ? ones(shape, DType) : randn(shape, DType, generator: generator));
        Vector = ModuleSlots.On(host, "ia3_l").AddParameter(name, Vector);
        host.Adapters.Add(name, this);
    }

    /// <summary>A feed-forward IA3 changes the base's input, so it computes the base itself.</summary>
    public bool ReplacesBase => FeedForward;

    /// <inheritdoc/>
    public Tensor Apply(Tensor x, Tensor result, Linear host)
    {
        using var scope = NewDisposeScope();
        var l = Vector.flatten();
        Tensor outp;
        if (FeedForward)
        {
            var scaled = (x.to(DType) * l).to(x.dtype);
            // Normally the first adapter on the layer (result is null). After another adapter, swap its base term:
            // result - base(x) + base(x ⊙ l).
            outp = result is null ? host.BaseForward(scaled) : result + (host.BaseForward(scaled) - host.BaseForward(x)).to(result.dtype);
        }
        else
        {
            outp = (result.to(DType) * l).to(result.dtype);
        }
        return outp.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Multiplies the host's weight by l (its columns on a feed-forward layer, its rows and bias otherwise).
    /// </summary>
    public void Merge(Linear host) => Rescale(host, divide: false);

    /// <summary>
    /// Divides by l + <see cref="UnmergeEpsilon"/>, as PEFT, so undoing a merge is exact only up to that epsilon.
    /// </summary>
    public void Unmerge(Linear host) => Rescale(host, divide: true);

    /// <summary>W ⊙ l (columns for feed-forward, rows and bias otherwise), or W / (l + 1e-8) to undo it, as PEFT does.</summary>
    void Rescale(Linear host, bool divide)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var l = Vector.detach();
        if (divide) l = l + UnmergeEpsilon;
        var w = host.DenseWeight(DType);
        host.AssignWeight(divide ? w / l : w * l); // [1, in] scales columns, [out, 1] rows
        if (FeedForward || host.bias is null) return;
        var b = host.bias.to(DType);
        var lb = l.flatten();
        host.bias.copy_(divide ? b / lb : b * lb);
    }

    /// <inheritdoc/>
    public void Detach(Linear host)
    {
        host.Adapters.Remove(Name);
        ModuleSlots.RemoveFrom(host, Name, "ia3_l");
    }
}
