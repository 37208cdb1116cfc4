using PeftSharp.Adapters.Lora;
using PeftSharp.Nn;
using PeftSharp.Peft;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Models;

[Collection(GlobalRngCollection.Name)]
public class PackingAndCheckpointingTests
{
    [Fact]
    public void Logits_of_a_packed_row_equal_those_of_each_example_run_alone()
    {
        var model = TinyModels.Random(TinyModels.Config(kvHeads: 2), seed: 14);
        long[] a = { 1, 5, 9, 13, 17 }, b = { 1, 40, 41 }, c = { 1, 70, 71, 72, 73, 74 };
        // One row of 16: a, b, c, then 2 padding tokens.
        var ids = a.Concat(b).Concat(c).Concat(new long[] { 0, 0 }).ToArray();
        var pos = Enumerable.Range(0, 5).Concat(Enumerable.Range(0, 3)).Concat(Enumerable.Range(0, 6)).Concat(new[] { 0, 0 }).Select(i => (long)i).ToArray();
        var seq = Enumerable.Repeat(0L, 5).Concat(Enumerable.Repeat(1L, 3)).Concat(Enumerable.Repeat(2L, 6)).Concat(new[] { -1L, -1L }).ToArray();
        using var _ = no_grad();
        var packed = model.Forward(TinyModels.Ids(ids), positionIds: TinyModels.Ids(pos), sequenceIds: TinyModels.Ids(seq))[0];
        int offset = 0;
        foreach (var example in new[] { a, b, c })
        {
            var alone = model.Forward(TinyModels.Ids(example))[0];
            var part = packed.narrow(0, offset, example.Length);
            Assert.True(part.allclose(alone, rtol: 1e-4, atol: 1e-5), $"example at {offset}: max diff {(part - alone).abs().max().item<float>()}");
            offset += example.Length;
        }
        Assert.False(packed.isnan().any().item<bool>());
    }

    // Dropout 0 takes the fused LoRA path, whose re-run skips the down projection's base GEMM (its value is unused).
    // Blockwise attention (heads of 8 let in for the test) reuses its first-run output in the re-run.
    [Theory]
    [InlineData(false, 0.1, false)]
    [InlineData(true, 0.1, false)]
    [InlineData(false, 0.0, false)]
    [InlineData(true, 0.0, false)]
    [InlineData(false, 0.0, true)]
    [InlineData(true, 0.1, true)]
    public void Activation_checkpointing_gives_identical_gradients(bool packedMask, double dropout, bool blockwiseAttention)
    {
        int savedMinHeadDim = FastPaths.BlockwiseAttentionMinHeadDim;
        FastPaths.BlockwiseAttentionMinHeadDim = blockwiseAttention ? 8 : int.MaxValue;
        try { CheckpointedEqualsPlain(packedMask, dropout); }
        finally { FastPaths.BlockwiseAttentionMinHeadDim = savedMinHeadDim; }
    }

    static void CheckpointedEqualsPlain(bool packedMask, double dropout)
    {
        (Dictionary<string, Tensor> Grads, float Loss) Run(bool checkpoint)
        {
            var model = TinyModels.Random(TinyModels.Config(kvHeads: 2), seed: 15);
            var peft = PeftModel.Create(model, new LoraConfig { R = 4, LoraAlpha = 8, LoraDropout = dropout, TargetRegex = LoraConfig.AllLinear, InitLoraWeights = "false" }, seed: 3);
            peft.SetTraining(true);
            model.model.GradientCheckpointing = checkpoint;
            manual_seed(42); // the same dropout masks in both runs
            var ids = TinyModels.Ids(new long[] { 1, 5, 9, 13, 17, 21, 25, 29 }, new long[] { 1, 2, 3, 4, 5, 6, 7, 8 });
            var seq = packedMask ? TinyModels.Ids(new long[] { 0, 0, 0, 1, 1, 1, 1, 1 }, new long[] { 0, 0, 0, 0, 0, 0, -1, -1 }) : null;
            var pos = packedMask ? TinyModels.Ids(new long[] { 0, 1, 2, 0, 1, 2, 3, 4 }, new long[] { 0, 1, 2, 3, 4, 5, 0, 0 }) : null;
            var logits = model.Forward(ids, positionIds: pos, sequenceIds: seq);
            var loss = logits.pow(2).mean();
            loss.backward();
            var grads = model.named_parameters().Where(p => p.parameter.requires_grad).ToDictionary(p => p.name, p => p.parameter.grad!.clone());
            return (grads, loss.item<float>());
        }
        var plain = Run(false);
        var ckpt = Run(true);
        Assert.Equal(plain.Loss, ckpt.Loss);
        Assert.Equal(plain.Grads.Keys.Order(), ckpt.Grads.Keys.Order());
        Assert.NotEmpty(plain.Grads);
        foreach (var (name, g) in plain.Grads)
            Assert.True(g.allclose(ckpt.Grads[name], rtol: 1e-5, atol: 1e-7), $"{name}: max diff {(g - ckpt.Grads[name]).abs().max().item<float>()}");
    }

    [Fact]
    public void Only_the_backward_re_run_of_a_checkpointed_block_is_marked_as_recomputing()
    {
        var seen = new List<bool>();
        var x = randn(4, 3).requires_grad_(true);
        var y = ActivationCheckpoint.Apply((h, _) => { seen.Add(ActivationCheckpoint.Recomputing); return h.sin(); }, x);
        y.sum().backward();
        Assert.Equal(new[] { false, true }, seen);
        Assert.False(ActivationCheckpoint.Recomputing);
        Assert.True(x.grad!.allclose(x.detach().cos()));
    }

    [Fact]
    public void An_op_computed_once_is_computed_in_the_first_run_only_and_its_output_handed_to_the_re_run()
    {
        var calls = new List<string>();
        Tensor Op(Tensor h) => ActivationCheckpoint.ComputedOnce(kept =>
        {
            calls.Add(kept is null ? "computed" : $"kept {kept.sum().item<float>():F4}");
            return kept is null ? h.exp() : h * 0 + kept; // a re-run graph of the same value (d/dh of exp is exp)
        });
        var x = randn(4, 3).requires_grad_(true);
        var y = ActivationCheckpoint.Apply((h, _) => Op(h) * 2, x);
        Assert.Single(calls); // the forward's run
        y.sum().backward();
        Assert.Equal(new[] { "computed", $"kept {x.detach().exp().sum().item<float>():F4}" }, calls);
        Assert.True(x.grad!.allclose(zeros_like(x))); // the re-run's graph (h * 0 + kept) was the one differentiated
        calls.Clear();
        var z = Op(x.detach()); // outside a checkpoint: computed, nothing kept
        Assert.Equal(new[] { "computed" }, calls);
        Assert.True(z.allclose(x.detach().exp()));
    }
}
