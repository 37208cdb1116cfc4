using static TorchSharp.torch;

namespace PeftSharp.Training.Optimization;

/// <summary>
/// One AdamW update in place, in the exact op order of torch's single-tensor AdamW (and TorchSharp's port of it),
/// so results match bit for bit: p *= 1 - lr*wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g²;
/// p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps). All three optimizer variants share it.
/// Call under no_grad inside a dispose scope (it makes one temporary, the denominator).
/// </summary>
internal static class AdamWMath
{
    public static void Update(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, long step, double lr,
        double weightDecay, AdamWOptions options)
    {
        double beta1 = options.Beta1, beta2 = options.Beta2;
        if (weightDecay != 0) param.mul_(1 - lr * weightDecay);
        double biasCorrection1 = 1 - Math.Pow(beta1, step);
        double biasCorrection2 = 1 - Math.Pow(beta2, step);
        expAvg.mul_(beta1).add_(grad, alpha: 1 - beta1);
        expAvgSq.mul_(beta2).addcmul_(grad, grad, value: 1 - beta2);
        var denom = (expAvgSq.sqrt() / Math.Sqrt(biasCorrection2)).add_(options.Eps);
        param.addcdiv_(expAvg, denom, value: -(lr / biasCorrection1));
    }
}
