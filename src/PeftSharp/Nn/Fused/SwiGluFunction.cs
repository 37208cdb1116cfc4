using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Nn.Fused;

/// <summary>
/// SwiGLU out = silu(gate)·up with its own backward. Autograd through the plain ops keeps silu(gate) (one more
/// intermediate-sized tensor per layer); this keeps only gate and up and recomputes σ(gate) in fp32 in backward:
/// d_up = g·silu(gate), d_gate = g·up·σ·(1 + gate·(1 − σ)); contiguous CPU bf16/fp32 tensors in one pass of
/// <see cref="SwiGluKernel"/>, anything else (fp64, other devices) in torch ops. The forward is the plain ops (silu,
/// then an in-place multiply), so bitwise their output: a checkpointed block recomputes exactly its no-grad forward.
/// </summary>
public sealed class SwiGluFunction : autograd.SingleTensorFunction<SwiGluFunction>
{
    /// <summary>The autograd node's name, "SwiGluFunction".</summary>
    public override string Name => nameof(SwiGluFunction);

    /// <summary>silu(gate)·up for gate and up of the same shape.</summary>
    public static Tensor Apply(Tensor gate, Tensor up) => AutogradHandoff.Applied(apply(gate, up));

    /// <summary>
    /// Autograd entry, called by TorchSharp through <see cref="Apply"/>; call that instead. Saves gate and up; computes
    /// silu(gate)·up with the plain ops.
    /// </summary>
    /// <param name="ctx">The autograd context.</param>
    /// <param name="vars">gate and up, of one shape.</param>
    /// <returns>silu(gate)·up.</returns>
    /// <exception cref="ArgumentException">gate and up differ in shape.</exception>
    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var gate = (Tensor)vars[0];
        var up = (Tensor)vars[1];
        if (!gate.shape.SequenceEqual(up.shape))
            throw new ArgumentException($"SwiGLU needs gate and up of one shape (gate [{string.Join(", ", gate.shape)}], up [{string.Join(", ", up.shape)}])");
        ctx.save_data("needGate", gate.requires_grad);
        ctx.save_data("needUp", up.requires_grad);
        AutogradHandoff.Save(ctx, gate, up);
        using var scope = NewDisposeScope();
        var s = nn.functional.silu(gate);
        return AutogradHandoff.Output(s.dtype == promote_types(gate.dtype, up.dtype) ? s.mul_(up) : s * up);
    }

    /// <summary>
    /// Autograd entry: d_gate and d_up from the saved gate and up, through <see cref="SwiGluKernel"/> on contiguous CPU
    /// bf16/fp32, else torch ops.
    /// </summary>
    /// <param name="ctx">The context forward saved into.</param>
    /// <param name="grad">dL/d(output), shaped like gate.</param>
    /// <returns>d_gate and d_up (null where not required).</returns>
    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad)
    {
        if (AutogradHandoff.NoGradient(grad)) return AutogradHandoff.Return(grad, null, null);
        using var scope = NewDisposeScope();
        var saved = ctx.get_saved_variables();
        Tensor gate = saved[0], up = saved[1];
        bool needGate = (bool)ctx.get_data("needGate"), needUp = (bool)ctx.get_data("needUp");
        var g = grad.contiguous();
        if (SwiGluKernel.Supports(gate, up, g))
        {
            Tensor? dGate = needGate ? empty_like(gate) : null, dUp = needUp ? empty_like(up) : null;
            SwiGluKernel.Backward(gate, up, g, dGate, dUp);
            return AutogradHandoff.Return(grad, dGate, dUp);
        }
        var (gradGate, gradUp) = TorchOpsBackward(gate, up, grad, needGate, needUp);
        return AutogradHandoff.Return(grad, gradGate, gradUp);
    }

    /// <summary>The same backward in torch ops, fp32 (fp64 for fp64 inputs).</summary>
    static (Tensor? Gate, Tensor? Up) TorchOpsBackward(Tensor gate, Tensor up, Tensor grad, bool needGate, bool needUp)
    {
        var compute = gate.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        var x = gate.to(compute);
        var sig = x.sigmoid();
        var g = grad.to(compute);
        var dUp = needUp ? (g * x * sig).to(up.dtype) : null;
        var dGate = needGate ? sig.neg().add_(1).mul_(x).add_(1).mul_(sig).mul_(g).mul_(up.to(compute)).to(gate.dtype) : null;
        return (dGate, dUp);
    }
}
