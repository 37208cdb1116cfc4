using PeftSharp.Nn;
using PeftSharp.Nn.Fused;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Models.Llama;

#pragma warning disable IDE1006 // fields carry the checkpoint's names so state_dict keys equal HF keys

/// <summary>SwiGLU feed-forward: down(silu(gate(x)) * up(x)).</summary>
public sealed class LlamaMlp : nn.Module<Tensor, Tensor>
{
    /// <summary>Gate projection hidden -> intermediate, passed through SiLU (HF's gate_proj).</summary>
    public Linear gate_proj;
    /// <summary>Up projection hidden -> intermediate, multiplied with the gate (HF's up_proj).</summary>
    public Linear up_proj;
    /// <summary>Down projection intermediate -> hidden (HF's down_proj).</summary>
    public Linear down_proj;

    /// <summary>
    /// Creates the feed-forward block with sizes and biases from <paramref name="c"/> and parameters of <paramref
    /// name="dtype"/>.
    /// </summary>
    public LlamaMlp(LlamaConfig c, ScalarType dtype) : base("mlp")
    {
        gate_proj = new Linear(c.HiddenSize, c.IntermediateSize, c.MlpBias, dtype);
        up_proj = new Linear(c.HiddenSize, c.IntermediateSize, c.MlpBias, dtype);
        down_proj = new Linear(c.IntermediateSize, c.HiddenSize, c.MlpBias, dtype);
        RegisterComponents();
    }

    /// <summary>down(silu(gate(x)) x up(x)) for <paramref name="x"/> [..., hidden], same shape out.</summary>
    public override Tensor forward(Tensor x) => Forward(x, outputValueUnused: false);

    /// <summary>
    /// As <see cref="forward"/>; with <paramref name="outputValueUnused"/> (the caller reads only the graph, as a
    /// checkpointed layer re-run in backward does) the down projection may skip computing its value.
    /// </summary>
    public Tensor Forward(Tensor x, bool outputValueUnused)
    {
        using var scope = NewDisposeScope();
        var hidden = Activation(gate_proj.forward(x), up_proj.forward(x));
        using (outputValueUnused ? OutputValueUnused.Enter() : default)
            return down_proj.forward(hidden).MoveToOuterDisposeScope();
    }

    /// <summary>silu(gate)·up; the fused function when training (<see cref="FastPaths.FusedSwiGlu"/>).</summary>
    public static Tensor Activation(Tensor gate, Tensor up)
    {
        if (FastPaths.FusedSwiGlu && is_grad_enabled() && (gate.requires_grad || up.requires_grad))
            return SwiGluFunction.Apply(gate, up);
        return nn.functional.silu(gate) * up;
    }
}
