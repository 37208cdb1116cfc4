using PeftSharp.Tests.Support;
using PeftSharp.Training;

namespace PeftSharp.Tests.Training;

[Collection(GlobalRngCollection.Name)] // flips the process-wide FastPaths.WideBf16Gemm
public class ChunkedLossTests
{
    [Theory]
    [InlineData(3, 0, true)]       // chunks smaller than the rows, head trained
    [InlineData(1000, 0, false)]   // one chunk, frozen head
    [InlineData(4, 7, true)]       // vocabulary slices of 7 (the last one short), head trained
    [InlineData(1000, 16, false)]
    public void Chunked_loss_and_gradients_equal_the_full_logits_path(int chunk, int vocabSlice, bool headTrains)
    {
        using var gen = new Generator().manual_seed(3);
        var hidden1 = randn(new long[] { 2, 9, 16 }, generator: gen).requires_grad_(true);
        var w1 = (randn(new long[] { 50, 16 }, generator: gen) * 0.3).requires_grad_(headTrains);
        var labels = randint(0, 50, new long[] { 2, 9 }, generator: gen);
        labels[0, 3] = -100;
        labels[1, 0] = -100;
        labels[1, 8] = -100;
        var hidden2 = hidden1.detach().clone().requires_grad_(true);
        var w2 = w1.detach().clone().requires_grad_(headTrains);

        var (full, n1) = CausalLmLoss.Compute(hidden1.matmul(w1.t()), labels);
        var (chunked, n2) = ChunkedCausalLmLoss.Compute(hidden2, w2, labels, chunk, vocabSlice);
        Assert.Equal(n1, n2);
        Assert.Equal(14, n2);  // 2 x 8 predicted labels, two of them masked ([0,3] and [1,8]; [1,0] is never predicted)
        Assert.True(Math.Abs(full.item<float>() - chunked.item<float>()) < 1e-4, $"{full.item<float>()} vs {chunked.item<float>()}");
        (full * 0.7).backward();
        (chunked * 0.7).backward();
        Assert.True(hidden1.grad!.allclose(hidden2.grad!, rtol: 1e-4, atol: 1e-6), $"dh max diff {(hidden1.grad! - hidden2.grad!).abs().max().item<float>()}");
        if (headTrains) Assert.True(w1.grad!.allclose(w2.grad!, rtol: 1e-4, atol: 1e-6), $"dW max diff {(w1.grad! - w2.grad!).abs().max().item<float>()}");
        else Assert.Null(w2.grad);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Bf16_chunked_loss_is_as_accurate_with_and_without_widened_gemms(bool widen)
    {
        using var gen = new Generator().manual_seed(5);
        var hidden = (randn(new long[] { 2, 40, 32 }, generator: gen)).to(ScalarType.BFloat16);
        var w = (randn(new long[] { 300, 32 }, generator: gen) * 0.3).to(ScalarType.BFloat16);
        var labels = randint(0, 300, new long[] { 2, 40 }, generator: gen);
        // fp64 reference on the same bf16-valued operands.
        var h64 = hidden.to(ScalarType.Float64).requires_grad_(true);
        var (exact, _) = CausalLmLoss.Compute(h64.matmul(w.to(ScalarType.Float64).t()), labels);
        exact.backward();
        bool saved = PeftSharp.Nn.FastPaths.WideBf16Gemm;
        try
        {
            PeftSharp.Nn.FastPaths.WideBf16Gemm = widen;
            var h = hidden.detach().requires_grad_(true);
            var (sum, _) = ChunkedCausalLmLoss.Compute(h, w, labels, 16, 128);
            sum.backward();
            Assert.Equal(ScalarType.BFloat16, h.grad!.dtype);
            double lossErr = Math.Abs(sum.item<float>() - exact.to(ScalarType.Float64).item<double>()) / exact.to(ScalarType.Float64).item<double>();
            double gradErr = (h.grad!.to(ScalarType.Float64) - h64.grad!).abs().max().item<double>() / h64.grad!.abs().max().item<double>();
            Assert.True(lossErr < (widen ? 1e-5 : 1e-2), $"loss relative error {lossErr:E2}");
            Assert.True(gradErr < 1e-2, $"gradient relative error {gradErr:E2}");
        }
        finally { PeftSharp.Nn.FastPaths.WideBf16Gemm = saved; }
    }
}
