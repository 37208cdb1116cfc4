using PeftSharp.Nn;
using PeftSharp.Nn.Fused;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Training;

/// <summary>
/// Next-token cross-entropy computed from the final hidden states and the output head in blocks of positions x
/// vocabulary, so the fp32 logits of the whole batch ([B·T, vocab]: 1.2 GB at seq 2048 with a 151k vocabulary) never
/// exist at once. Forward runs an online log-sum-exp over vocabulary slices (as FlashAttention does over keys) and
/// keeps one fp32 value per position; backward recomputes each block's logits, turns them into softmax minus one-hot
/// with that value, and returns the gradients of the hidden states and, when it trains, of the head. Each head slice
/// is read (and widened to fp32 where bf16 GEMMs are slow, see <see cref="WideGemm"/>) once per pass. The result equals
/// <see cref="CausalLmLoss"/> on the full logits (same fp32 log-softmax per row, up to summation order).
/// </summary>
public sealed class ChunkedCausalLmLoss : autograd.SingleTensorFunction<ChunkedCausalLmLoss>
{
    /// <summary>The autograd node's name, "ChunkedCausalLmLoss".</summary>
    public override string Name => nameof(ChunkedCausalLmLoss);

    /// <summary>fp32 logits per block (4M values, 16 MiB): 512 positions x 8192 vocabulary entries.</summary>
    public const long ChunkLogits = 1L << 22;

    /// <summary>Vocabulary entries per slice of the head.</summary>
    public const int VocabSlice = 8192;

    /// <summary>
    /// Sum of the loss over predicted tokens and their number; <paramref name="hidden"/> is [B, T, H]. Blocks hold
    /// <paramref name="chunkRows"/> positions x <paramref name="vocabSlice"/> entries, or (0) <see cref="VocabSlice"/>
    /// entries and as many positions as fit <see cref="ChunkLogits"/> fp32 logits.
    /// </summary>
    public static (Tensor Sum, long Tokens) Compute(Tensor hidden, Tensor headWeight, Tensor labels, int chunkRows = 0, int vocabSlice = 0)
    {
        if (vocabSlice <= 0) vocabSlice = (int)Math.Min(VocabSlice, headWeight.shape[0]);
        if (chunkRows <= 0) chunkRows = (int)Math.Clamp(ChunkLogits / vocabSlice, 16, 4096);
        using var scope = NewDisposeScope();
        long h = hidden.shape[^1];
        // Position t predicts label t+1: drop the last position and the first label, as CausalLmLoss does.
        var x = hidden.narrow(1, 0, hidden.shape[1] - 1).reshape(-1, h);
        var y = labels.narrow(1, 1, labels.shape[1] - 1).reshape(-1);
        long tokens = y.ne(CausalLmLoss.IgnoreIndex).sum().item<long>();
        var sum = AutogradHandoff.Applied(apply(x, headWeight, y, chunkRows, vocabSlice));
        return (sum.MoveToOuterDisposeScope(), tokens);
    }

    /// <summary>
    /// Autograd entry, called by TorchSharp through <see cref="Compute"/>; call that instead. Sums the loss block by
    /// block under no_grad and saves the hidden states, the head weight, the labels and each row's log-sum-exp.
    /// </summary>
    /// <param name="ctx">The autograd context.</param>
    /// <param name="vars">Hidden states [N, H], head weight [vocab, H], shifted labels [N], rows and vocabulary per block.</param>
    /// <returns>The fp32 scalar loss sum.</returns>
    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var w = (Tensor)vars[1];
        var y = (Tensor)vars[2];
        int chunk = (int)vars[3], slice = (int)vars[4];
        using var _ = no_grad();
        long rows = x.shape[0];
        // Online log-sum-exp over the slices: running max m and sum of exp(logit - m) per row, and the label's logit.
        using var negativeInfinity = double.NegativeInfinity.ToScalar(); // held: an implicit Scalar may be collected mid-call
        var m = full(new[] { rows }, negativeInfinity, ScalarType.Float32, device: x.device);
        var sumExp = zeros(rows, ScalarType.Float32, x.device);
        var target = zeros(rows, ScalarType.Float32, x.device);
        ForEachBlock(x, w, y, chunk, slice, b =>
        {
            var (mr, sr) = (m.narrow(0, b.Row, b.Rows), sumExp.narrow(0, b.Row, b.Rows));
            target.narrow(0, b.Row, b.Rows).add_(b.Logits.gather(1, b.Label.unsqueeze(1)).squeeze(1).mul_(b.LabelHere));
            var mNew = maximum(mr, b.Logits.amax(new long[] { 1 }));
            sr.mul_((mr - mNew).exp_()).add_(b.Logits.sub_(mNew.unsqueeze(1)).exp_().sum(1));
            mr.copy_(mNew);
        });
        var lse = m.add_(sumExp.log_());
        var valid = y.ne(CausalLmLoss.IgnoreIndex).to(ScalarType.Float32);
        var total = ((lse - target) * valid).sum();
        AutogradHandoff.Save(ctx, x, w, y, lse);
        ctx.save_data("blocks", (chunk, slice));
        ctx.save_data("weightGrad", w.requires_grad);
        return AutogradHandoff.Output(total);
    }

    /// <summary>
    /// One block: fp32 logits of rows [Row, Row + Rows) over vocabulary entries [Entry, Entry + Entries), the GEMM
    /// operands that made them, each row's label relative to the slice (clamped into it) and 1 where it falls in it.
    /// </summary>
    readonly record struct Block(Tensor X, Tensor W, Tensor Logits, long Row, long Rows, long Entry, long Entries, Tensor Label, Tensor LabelHere);

    /// <summary>
    /// Runs <paramref name="body"/> over every block, slice by slice: each head slice is widened once (where bf16
    /// GEMMs run as fp32, see <see cref="WideGemm"/>), and each block's tensors are freed when its body returns.
    /// </summary>
    static void ForEachBlock(Tensor x, Tensor w, Tensor y, int chunk, int slice, Action<Block> body)
    {
        using var scope = NewDisposeScope();
        long rows = x.shape[0], vocab = w.shape[0];
        var gemm = WideGemm.For(x, w.dtype);
        var xg = x.to(gemm);
        for (long v0 = 0; v0 < vocab; v0 += slice)
        {
            using var sliceScope = NewDisposeScope();
            long vs = Math.Min(slice, vocab - v0);
            var ws = WideGemm.Weight(w.narrow(0, v0, vs), gemm);
            for (long r0 = 0; r0 < rows; r0 += chunk)
            {
                using var blockScope = NewDisposeScope();
                long n = Math.Min(chunk, rows - r0);
                var xc = xg.narrow(0, r0, n);
                var local = y.narrow(0, r0, n) - v0;
                var here = local.ge(0).logical_and_(local.lt(vs)).to(ScalarType.Float32);
                body(new Block(xc, ws, xc.matmul(ws.t()).to(ScalarType.Float32), r0, n, v0, vs, local.clamp_(0, vs - 1), here));
            }
        }
    }

    /// <summary>
    /// Autograd entry: recomputes each block's logits, turns them into softmax minus one-hot with the saved
    /// log-sum-exp, and accumulates d(hidden) and, when the head trains, d(weight) in fp32.
    /// </summary>
    /// <param name="ctx">The context forward saved into.</param>
    /// <param name="grad">dL/d(sum), a scalar.</param>
    /// <returns>d(hidden), d(weight) or null, and null for the labels and the block sizes.</returns>
    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad)
    {
        if (AutogradHandoff.NoGradient(grad)) return AutogradHandoff.Return(grad, null, null, null, null, null);
        using var backwardScope = NewDisposeScope();
        var saved = ctx.get_saved_variables();
        Tensor x = saved[0], w = saved[1], y = saved[2], lse = saved[3];
        var (chunk, slice) = ((int, int))ctx.get_data("blocks");
        bool weightGrad = (bool)ctx.get_data("weightGrad");
        var dx = zeros(x.shape, ScalarType.Float32, x.device);
        var dw = weightGrad ? zeros(w.shape, ScalarType.Float32, w.device) : null;
        using (no_grad())
        {
            // d(sum of -log softmax[y]) / d logits = softmax - onehot(y), zero on ignored rows, times dL/d(sum).
            var scale = y.ne(CausalLmLoss.IgnoreIndex).to(ScalarType.Float32).mul_(grad.to(ScalarType.Float32)).unsqueeze(1);
            ForEachBlock(x, w, y, chunk, slice, b =>
            {
                var g = b.Logits.sub_(lse.narrow(0, b.Row, b.Rows).unsqueeze(1)).exp_();
                g.scatter_add_(1, b.Label.unsqueeze(1), b.LabelHere.neg().unsqueeze(1));
                g.mul_(scale.narrow(0, b.Row, b.Rows));
                dx.narrow(0, b.Row, b.Rows).add_(g.to(b.W.dtype).matmul(b.W).to(ScalarType.Float32));
                dw?.narrow(0, b.Entry, b.Entries).add_(g.t().matmul(b.X.to(ScalarType.Float32)));
            });
        }
        return AutogradHandoff.Return(grad, dx.to(x.dtype), dw?.to(w.dtype), null, null, null);
    }
}
