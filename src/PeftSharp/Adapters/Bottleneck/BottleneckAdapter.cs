using PeftSharp.Adapters.Lora;
using PeftSharp.Nn;
using TorchSharp;
using static TorchSharp.torch;
using Linear = PeftSharp.Nn.Linear;

namespace PeftSharp.Adapters.Bottleneck;

/// <summary>
/// A bottleneck adapter on a Linear (Houlsby et al. 2019): adapter_up(act(adapter_down(·))) added to the layer's
/// output. Sequential (Houlsby): out = y + up(act(down(y))) with y the host's output. Parallel (He et al. 2022, at
/// Linear level as LLM-Adapters): out = y + scaling · up(act(down(x))) with x the host's input. adapter_down has nn.Linear's
/// Kaiming-uniform init; adapter_up's weight and bias are zero, so the layer is the identity at init. Registered on
/// the host as <c>adapter_down.&lt;adapter&gt;.{weight,bias}</c> and <c>adapter_up.&lt;adapter&gt;.{weight,bias}</c>. Non-linear,
/// so it cannot be merged into the base weight.
/// </summary>
public sealed class BottleneckAdapter : ILinearAdapter, IHasTrainingMode
{
    /// <summary>The adapter name it is registered under on the host layer.</summary>
    public string Name { get; }
    /// <summary>
    /// True for the parallel variant (reads the host's input), false for the sequential one (reads the host's output).
    /// </summary>
    public bool Parallel { get; }
    /// <summary>Factor on the adapter's output in the parallel variant; the sequential variant ignores it.</summary>
    public double Scaling { get; }
    /// <summary>Dropout probability on the adapter's input while training.</summary>
    public double Dropout { get; }
    /// <summary>The activation between down and up: relu, gelu, tanh or silu.</summary>
    public string NonLinearity { get; }
    /// <summary>The dtype of the adapter's weights: fp32, or fp64 on an fp64 base.</summary>
    public ScalarType DType { get; }
    /// <summary>
    /// The down projection (features -> adapter_size, with bias), registered as <c>adapter_down.&lt;adapter&gt;</c>.
    /// </summary>
    public Linear Down { get; }
    /// <summary>
    /// The up projection (adapter_size -> out_features, with bias, zero at init), registered as
    /// <c>adapter_up.&lt;adapter&gt;</c>.
    /// </summary>
    public Linear Up { get; }
    /// <summary>Whether dropout is applied (set by the model's train/eval switch).</summary>
    public bool Training { get; set; }

    /// <summary>
    /// Creates the adapter on <paramref name="host"/> and registers it as adapter <paramref name="name"/>.
    /// </summary>
    /// <param name="host">The Linear to adapt.</param>
    /// <param name="name">Adapter name.</param>
    /// <param name="size">Bottleneck width (adapter_size).</param>
    /// <param name="nonLinearity">relu, gelu, tanh or silu.</param>
    /// <param name="dropout">Input dropout probability while training.</param>
    /// <param name="parallel">Parallel (input-side) rather than sequential (output-side) placement.</param>
    /// <param name="scaling">Output factor of the parallel variant.</param>
    /// <param name="generator">Random source for adapter_down's init; null = torch's default generator.</param>
    public BottleneckAdapter(Linear host, string name, int size, string nonLinearity, double dropout, bool parallel, double scaling, Generator? generator = null)
    {
        Name = name;
        Parallel = parallel;
        Scaling = scaling;
        Dropout = dropout;
        NonLinearity = nonLinearity;
        DType = AdapterDType.For(host.weight.dtype);
        Down = new Linear(parallel ? host.InFeatures : host.OutFeatures, size, hasBias: true, DType);
        Up = new Linear(size, host.OutFeatures, hasBias: true, DType);
        using (no_grad())
        {
            LoraLinear.KaimingUniform(Down.weight, generator);
            double bound = 1.0 / Math.Sqrt(Down.InFeatures);
            Down.bias!.uniform_(-bound, bound, generator);
            Up.weight.zero_();
            Up.bias!.zero_();
        }
        ModuleSlots.On(host, "adapter_down").AddModule(name, Down);
        ModuleSlots.On(host, "adapter_up").AddModule(name, Up);
        host.Adapters.Add(name, this);
    }

    /// <inheritdoc/>
    public Tensor Apply(Tensor x, Tensor result, Linear host)
    {
        using var scope = NewDisposeScope();
        var input = (Parallel ? x : result).to(DType);
        if (Training && Dropout > 0) input = nn.functional.dropout(input, Dropout, true);
        var h = Up.forward(Activate(Down.forward(input)));
        if (Parallel && Scaling != 1.0) h = h * Scaling;
        return (result + h.to(result.dtype)).MoveToOuterDisposeScope();
    }

    Tensor Activate(Tensor h) => NonLinearity switch
    {
        "relu" => nn.functional.relu(h),
        "gelu" => nn.functional.gelu(h),
        "tanh" => h.tanh(),
        "silu" => nn.functional.silu(h),
        _ => throw new ConfigurationException($"non_linearity '{NonLinearity}' is not one of {string.Join(", ", BottleneckConfig.NonLinearities)}"),
    };

    /// <summary>Always throws: a non-linear adapter has no weight-space form.</summary>
    /// <exception cref="ConfigurationException">Always, with <see cref="NotMergeable"/> as the message.</exception>
    public void Merge(Linear host) => throw new ConfigurationException(NotMergeable);

    /// <summary>Does nothing: a bottleneck adapter is never merged.</summary>
    public void Unmerge(Linear host) { }

    /// <summary>The error message given when a bottleneck adapter is asked to merge, with the alternatives.</summary>
    public const string NotMergeable =
        "bottleneck adapters are non-linear (up(act(down(·)))) and cannot be merged into the base weights: " +
        "deploy the base model with the adapter folder instead (e.g. `generate --adapter <folder>`), or train LoRA/IA3 if you need a merged model";

    /// <inheritdoc/>
    public void Detach(Linear host)
    {
        host.Adapters.Remove(Name);
        ModuleSlots.RemoveFrom(host, Name, "adapter_down", "adapter_up");
    }
}
