using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Training.Optimization;

/// <summary>
/// Global-norm gradient clipping as torch.nn.utils.clip_grad_norm_: the L2 norm over all gradients together; when
/// it exceeds max_norm every gradient is scaled in place by max_norm / (norm + 1e-6). Unlike torch, a non-finite
/// norm is returned without touching the gradients, so the trainer can skip that step instead of writing NaNs.
/// </summary>
public static class GradientClipping
{
    /// <summary>Clips in place; returns the norm before clipping (NaN or infinity when a gradient is non-finite).</summary>
    public static double ClipByGlobalNorm(IEnumerable<Parameter> parameters, double maxNorm)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(maxNorm > 0)) throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "max_norm must be > 0");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var grads = parameters.Select(p => p.grad).OfType<Tensor>().ToList();
        if (grads.Count == 0) return 0;
        // Per-gradient norms in fp32 (bf16 grads would lose the sum), then the norm of the norms, as torch does.
        var norms = grads.Select(g => g.to_type(ScalarType.Float32).norm()).ToArray();
        double total = stack(norms).norm().item<float>();
        if (!double.IsFinite(total)) return total;
        double coef = maxNorm / (total + 1e-6);
        if (coef < 1)
            foreach (var g in grads) g.mul_(coef);
        return total;
    }

    /// <summary>
    /// Clips the gradients of every parameter the optimizer steps, as torch.nn.utils.clip_grad_norm_.
    /// </summary>
    /// <returns>The global L2 norm before clipping (non-finite when a gradient is; then nothing is scaled).</returns>
    public static double ClipByGlobalNorm(ITrainingOptimizer optimizer, double maxNorm) =>
        ClipByGlobalNorm(optimizer.Groups.SelectMany(g => g.Parameters).Select(p => p.Param), maxNorm);
}
