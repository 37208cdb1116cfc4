using System.Globalization;
using PeftSharp.Adapters.Lora;
using PeftSharp.Models.Llama;
using PeftSharp.Nn;
using PeftSharp.Peft;
using static TorchSharp.torch;

namespace PeftSharp.Bench.Suite;

/// <summary>
/// Where one decoder layer's training time goes: forward + backward of each piece at the suite's shapes, so a fast
/// path is chosen by measurement; the fused functions are timed against the plain ops they replace.
/// <c>profile [--batch 4] [--seq 512] [--shape smollm|qwen] [--runs 5] [--fused-only]</c>.
/// </summary>
public static class LayerProfile
{
    public static int Run(string shape, int batch, int seq, int runs, bool fusedOnly = false)
    {
        TorchRuntime.EnsureInitialized();
        var c = SuiteShapes.Get(shape, 1);
        manual_seed(0);
        var model = new LlamaForCausalLM(c, ScalarType.BFloat16);
        using (no_grad()) foreach (var (_, p) in model.named_parameters()) p.normal_(0, 0.02);
        PeftModel.Create(model, new LoraConfig { R = 16, LoraAlpha = 32, TargetRegex = LoraConfig.AllLinear }, seed: 1);
        var layer = model.model.layers[0];
        var x = randn(new long[] { batch, seq, c.HiddenSize }, ScalarType.BFloat16) * 0.5;
        var rope = new RotaryEmbedding(c.HeadDim, c.RopeTheta);
        var pos = arange(seq).unsqueeze(0).expand(batch, -1);
        var (cos, sin) = rope.CosSin(pos, ScalarType.BFloat16);
        void Row(string name, Func<Tensor, Tensor> f, Tensor input)
        {
            double fwd = KernelBenchmark.MedianMs(runs, () => { using var s = NewDisposeScope(); using var _ = no_grad(); f(input); });
            double both = KernelBenchmark.MedianMs(runs, () =>
            {
                using var s = NewDisposeScope();
                var xi = input.detach().requires_grad_(true);
                var y = f(xi);
                y.backward(new[] { ones_like(y) });
            });
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {fwd:F2} | {both:F2} |"));
        }
        Console.WriteLine($"{shape} layer, batch {batch}, seq {seq}, bf16, LoRA r16 on all linears (ms, median of {runs})");
        var inter = randn(new long[] { batch, seq, c.IntermediateSize }, ScalarType.BFloat16);
        if (fusedOnly) return FusedRows();
        Console.WriteLine("| piece | forward | forward + backward |");
        Console.WriteLine("|---|---|---|");
        Row("decoder layer", h => layer.Forward(h, cos, sin, null, null), x);
        Row("attention block", h => layer.self_attn.Forward(h, cos, sin, null, null), x);
        Row("mlp block", h => layer.mlp.forward(h), x);
        Row("rmsnorm", h => layer.input_layernorm.forward(h), x);
        Row("q_proj (LoRA)", h => layer.self_attn.q_proj.forward(h), x);
        Row("q_proj base only", h => layer.self_attn.q_proj.BaseForward(h), x);
        Row("gate_proj (LoRA)", h => layer.mlp.gate_proj.forward(h), x);
        Row("gate_proj base only", h => layer.mlp.gate_proj.BaseForward(h), x);
        Row("down_proj (LoRA)", h => layer.mlp.down_proj.forward(h), inter);
        Row("down_proj base only", h => layer.mlp.down_proj.BaseForward(h), inter);
        Row("swiglu silu(g)*u", h => nn.functional.silu(h) * h, inter);
        var q = randn(new long[] { batch, c.NumAttentionHeads, seq, c.HeadDim }, ScalarType.BFloat16);
        Row("rotary (q)", h => RotaryEmbedding.Apply(h, cos, sin), q);
        Row("sdpa causal", h => nn.functional.scaled_dot_product_attention(h, h, h, null, 0.0, true), q);
        var causalMask = ones(seq, seq, ScalarType.Bool).tril();
        var additive = zeros(seq, seq, ScalarType.BFloat16).masked_fill(causalMask.logical_not(), double.NegativeInfinity);
        var kvq = q.narrow(1, 0, c.NumKeyValueHeads).contiguous();
        Row("blockwise attention (GQA, causal)", h => PeftSharp.Nn.Fused.BlockwiseAttentionFunction.Apply(h, kvq, kvq, null), q);
        Row("sdpa causal + repeat_interleave kv", h => nn.functional.scaled_dot_product_attention(h, kvq.repeat_interleave(c.NumAttentionHeads / c.NumKeyValueHeads, 1),
            kvq.repeat_interleave(c.NumAttentionHeads / c.NumKeyValueHeads, 1), null, 0.0, true), q);
        Row("sdpa additive mask", h => nn.functional.scaled_dot_product_attention(h, h, h, additive, 0.0, false), q);
        Row("sdpa bool mask", h => nn.functional.scaled_dot_product_attention(h, h, h, causalMask, 0.0, false), q);
        Row("sdpa fp32 causal", h => nn.functional.scaled_dot_product_attention(h, h, h, null, 0.0, true).to(ScalarType.BFloat16), q.to(ScalarType.Float32));
        Row("eager bf16 matmul + fp32 softmax", h =>
        {
            var scores = h.matmul(h.transpose(-1, -2)) * (1.0 / Math.Sqrt(c.HeadDim));
            var p = (scores.to(ScalarType.Float32) + additive.to(ScalarType.Float32)).softmax(-1).to(ScalarType.BFloat16);
            return p.matmul(h);
        }, q);
        Row("eager bf16 softmax", h =>
        {
            var scores = h.matmul(h.transpose(-1, -2)) * (1.0 / Math.Sqrt(c.HeadDim));
            return (scores + additive).softmax(-1).matmul(h);
        }, q);
        Row("repeat_interleave kv", h => h.repeat_interleave(3, 1), q.narrow(1, 0, c.NumKeyValueHeads));
        Console.WriteLine();
        return FusedRows();

        int FusedRows()
        {
            Console.WriteLine($"Fused functions vs the plain ops they replace (FastPaths switch off / on, runs interleaved; ms, median of {runs})");
            Console.WriteLine("| piece | plain forward | fused forward | plain forward + backward | fused forward + backward |");
            Console.WriteLine("|---|---|---|---|---|");
            var gate = randn(new long[] { batch, seq, c.IntermediateSize }, ScalarType.BFloat16);
            var qView = randn(new long[] { batch, seq, c.NumAttentionHeads, c.HeadDim }, ScalarType.BFloat16).transpose(1, 2);
            using var restore = FastPaths.All(false);
            Compare("rmsnorm", on => FastPaths.FusedRmsNorm = on, v => layer.input_layernorm.forward(v[0]), x);
            Compare("swiglu silu(g)*u", on => FastPaths.FusedSwiGlu = on, v => LlamaMlp.Activation(v[0], v[1]), gate, inter);
            Compare("rotary q (transposed view)", on => FastPaths.FusedRotary = on, v => RotaryEmbedding.Apply(v[0], cos, sin), qView);
            Compare("mlp block", on => FastPaths.FusedSwiGlu = on, v => layer.mlp.forward(v[0]), x);
            Compare("decoder layer", on => FastPaths.FusedRmsNorm = FastPaths.FusedSwiGlu = FastPaths.FusedRotary = on,
                v => layer.Forward(v[0], cos, sin, null, null), x);
            return 0;
        }

        // Plain and fused alternate run by run, so drift and other load on the machine hit both alike.
        void Compare(string name, Action<bool> fused, Func<Tensor[], Tensor> f, params Tensor[] inputs)
        {
            // Inputs as in a model: outputs of an op (a view whose backward is a view), not leaves: autograd copies a
            // leaf's gradient when something else (a custom function's managed wrapper) still references it.
            Tensor[] Inputs() => inputs.Select(t => t.detach().requires_grad_(true).unsqueeze(0).squeeze(0)).ToArray();
            void Forward() { using var s = NewDisposeScope(); f(Inputs()); }
            void Both()
            {
                using var s = NewDisposeScope();
                var y = f(Inputs());
                y.backward(new[] { ones_like(y) });
            }
            var times = new List<double>[4];
            for (int k = 0; k < 4; k++) times[k] = new List<double>();
            for (int i = -2; i < runs; i++)
            {
                for (int k = 0; k < 4; k++)
                {
                    fused(k % 2 == 1);
                    var sw = System.Diagnostics.Stopwatch.StartNew();
                    if (k < 2) Forward(); else Both();
                    if (i >= 0) times[k].Add(sw.Elapsed.TotalMilliseconds);
                }
            }
            fused(false);
            var m = times.Select(t => t.Order().ElementAt(t.Count / 2)).ToArray();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {m[0]:F2} | {m[1]:F2} | {m[2]:F2} | {m[3]:F2} |"));
        }
    }
}
