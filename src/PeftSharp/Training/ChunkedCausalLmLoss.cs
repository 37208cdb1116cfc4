using PeftSharp.Nn.Fused;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Training;

/// <summary>
/// Next-token cross-entropy computed from the final hidden states and the output head in chunks of positions, so
/// the fp32 logits of the whole batch ([B·T, vocab]: 1.2 GB at seq 2048 with a 151k vocabulary) never exist at once.
/// Backward recomputes each chunk's logits and returns the gradients of the hidden states and, when it trains, of the
/// head. The result equals <see cref="CausalLmLoss"/> on the full logits (same fp32 log-softmax per row).
/// </summary>
public sealed class ChunkedCausalLmLoss : autograd.SingleTensorFunction<ChunkedCausalLmLoss>
{
    /// <summary>The autograd node's name, "ChunkedCausalLmLoss".</summary>
    public override string Name => nameof(ChunkedCausalLmLoss);

    /// <summary>fp32 logits per chunk (16M values, 64 MiB): a 49k vocabulary gets 341 rows, a 152k one 110.</summary>
    public const long ChunkLogits = 1L << 24;

    /// <summary>
    /// Sum of the loss over predicted tokens and their number; <paramref name="hidden"/> is [B, T, H]. Chunks hold
    /// <paramref name="chunkRows"/> positions, or (0) as many as fit <see cref="ChunkLogits"/> fp32 logits.
    /// </summary>
    public static (Tensor Sum, long Tokens) Compute(Tensor hidden, Tensor headWeight, Tensor labels, int chunkRows = 0)
    {
        if (chunkRows <= 0) chunkRows = (int)Math.Clamp(ChunkLogits / headWeight.shape[0], 16, 4096);
        using var scope = NewDisposeScope();
        long h = hidden.shape[^1];
        // Position t predicts label t+1: drop the last position and the first label, as CausalLmLoss does.
        var x = hidden.narrow(1, 0, hidden.shape[1] - 1).reshape(-1, h);
        var y = labels.narrow(1, 1, labels.shape[1] - 1).reshape(-1);
        long tokens = y.ne(CausalLmLoss.IgnoreIndex).sum().item<long>();
        var sum = AutogradHandoff.Applied(apply(x, headWeight, y, chunkRows));
        return (sum.MoveToOuterDisposeScope(), tokens);
    }

    /// <summary>
    /// Autograd entry, called by TorchSharp through <see cref="Compute"/>; call that instead. Sums the loss chunk by
    /// chunk under no_grad and saves only the hidden states, the head weight and the labels.
    /// </summary>
    /// <param name="ctx">The autograd context.</param>
    /// <param name="vars">Hidden states [N, H], head weight [vocab, H], shifted labels [N] and the chunk size (int).</param>
    /// <returns>The fp32 scalar loss sum.</returns>
    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var w = (Tensor)vars[1];
        var y = (Tensor)vars[2];
        int chunk = (int)vars[3];
        AutogradHandoff.Save(ctx, x, w, y);
        ctx.save_data("chunk", chunk);
        ctx.save_data("weightGrad", w.requires_grad);
        using var _ = no_grad();
        var total = zeros(1, ScalarType.Float32, x.device);
        long rows = x.shape[0];
        for (long start = 0; start < rows; start += chunk)
        {
            using var scope = NewDisposeScope();
            long n = Math.Min(chunk, rows - start);
            var logits = x.narrow(0, start, n).matmul(w.t()).to(ScalarType.Float32);
            var loss = nn.functional.cross_entropy(logits, y.narrow(0, start, n), ignore_index: CausalLmLoss.IgnoreIndex, reduction: nn.Reduction.Sum);
            total.add_(loss);
        }
        return AutogradHandoff.Output(total.squeeze());
    }

    /// <summary>
    /// Autograd entry: recomputes each chunk's logits, softmax minus one-hot, and accumulates d(hidden) and, when the
    /// head trains, d(weight) in fp32.
    /// </summary>
    /// <param name="ctx">The context forward saved into.</param>
    /// <param name="grad">dL/d(sum), a scalar.</param>
    /// <returns>d(hidden), d(weight) or null, and null for the labels and the chunk size.</returns>
    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad)
    {
        if (AutogradHandoff.NoGradient(grad)) return AutogradHandoff.Return(grad, null, null, null, null);
        using var backwardScope = NewDisposeScope();
        var saved = ctx.get_saved_variables();
        Tensor x = saved[0], w = saved[1], y = saved[2];
        int chunk = (int)ctx.get_data("chunk");
        bool weightGrad = (bool)ctx.get_data("weightGrad");
        var dx = zeros_like(x);
        var dw = weightGrad ? zeros(w.shape, ScalarType.Float32, w.device) : null;
        long rows = x.shape[0];
        using (no_grad())
            for (long start = 0; start < rows; start += chunk)
            {
                using var scope = NewDisposeScope();
                long n = Math.Min(chunk, rows - start);
                var xc = x.narrow(0, start, n);
                var yc = y.narrow(0, start, n);
                var logits = xc.matmul(w.t()).to(ScalarType.Float32);
                // d(sum of -log softmax[y]) / d logits = softmax - onehot(y), zero on ignored rows.
                var g = logits.softmax(-1);
                var valid = yc.ne(CausalLmLoss.IgnoreIndex);
                var target = yc.masked_fill(valid.logical_not(), 0).unsqueeze(1);
                g.scatter_add_(1, target, full_like(target, -1.0, ScalarType.Float32));
                g.mul_(valid.unsqueeze(1).to(ScalarType.Float32)).mul_(grad.to(ScalarType.Float32));
                dx.narrow(0, start, n).copy_(g.to(w.dtype).matmul(w));
                dw?.add_(g.t().matmul(xc.to(ScalarType.Float32)));
            }
        return AutogradHandoff.Return(grad, dx, dw?.to(w.dtype), null, null);
    }
}
