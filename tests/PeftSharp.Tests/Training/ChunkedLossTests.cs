using PeftSharp.Training;

namespace PeftSharp.Tests.Training;

public class ChunkedLossTests
{
    [Theory]
    [InlineData(3, true)]     // chunks smaller than the rows, head trained
    [InlineData(1000, false)] // one chunk, frozen head
    public void Chunked_loss_and_gradients_equal_the_full_logits_path(int chunk, bool headTrains)
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
        var (chunked, n2) = ChunkedCausalLmLoss.Compute(hidden2, w2, labels, chunk);
        Assert.Equal(n1, n2);
        Assert.Equal(14, n2);  // 2 x 8 predicted labels, two of them masked ([0,3] and [1,8]; [1,0] is never predicted)
        Assert.True(Math.Abs(full.item<float>() - chunked.item<float>()) < 1e-4, $"{full.item<float>()} vs {chunked.item<float>()}");
        (full * 0.7).backward();
        (chunked * 0.7).backward();
        Assert.True(hidden1.grad!.allclose(hidden2.grad!, rtol: 1e-4, atol: 1e-6), $"dh max diff {(hidden1.grad! - hidden2.grad!).abs().max().item<float>()}");
        if (headTrains) Assert.True(w1.grad!.allclose(w2.grad!, rtol: 1e-4, atol: 1e-6), $"dW max diff {(w1.grad! - w2.grad!).abs().max().item<float>()}");
        else Assert.Null(w2.grad);
    }
}
