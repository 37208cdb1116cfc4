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
    public string Name { get; }
    public bool Parallel { get; }
    public double Scaling { get; }
    public double Dropout { get; }
    public string NonLinearity { get; }
    public ScalarType DType { get; }
    public Linear Down { get; }
    public Linear Up { get; }
    public bool Training { get; set; }

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

    public void Merge(Linear host) => throw new ConfigurationException(NotMergeable);

    public void Unmerge(Linear host) { }

    public const string NotMergeable =
        "bottleneck adapters are non-linear (up(act(down(·)))) and cannot be merged into the base weights: " +
        "deploy the base model with the adapter folder instead (e.g. `generate --adapter <folder>`), or train LoRA/IA3 if you need a merged model";

    public void Detach(Linear host)
    {
        host.Adapters.Remove(Name);
        ModuleSlots.RemoveFrom(host, Name, "adapter_down", "adapter_up");
    }
}
