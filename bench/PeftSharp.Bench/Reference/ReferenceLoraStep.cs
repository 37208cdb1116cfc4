using PeftSharp.Adapters.Lora;
using PeftSharp.Models.Llama;
using PeftSharp.Nn;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using Linear = PeftSharp.Nn.Linear;

namespace PeftSharp.Bench.Reference;

/// <summary>
/// The yardstick: the same LoRA training step written the straightforward way, as Hugging Face's eager Llama with
/// PEFT's LoRA layer computes it. Plain autograd over torch ops; RMSNorm, rotary and SwiGLU as op compositions;
/// eager attention (scores matrix, fp32 softmax); the adapter path in fp32 on an fp32 copy of x; full fp32 logits
/// and cross-entropy over the whole vocabulary. It reads the very tensors of a <see cref="LlamaForCausalLM"/> with
/// LoRA attached (bf16 base, fp32 A and B), so its loss equals the optimised model's and the optimiser is shared:
/// every ratio in the suite compares the same computation done two ways. Bench-only code.
/// </summary>
public static class ReferenceLoraStep
{
    /// <summary>Mean next-token loss of <paramref name="ids"/> [B, T] (labels = inputs).</summary>
    public static Tensor Loss(LlamaForCausalLM model, Tensor ids)
    {
        var c = model.Config;
        long b = ids.shape[0], t = ids.shape[1];
        var h = model.model.embed_tokens.weight.index_select(0, ids.reshape(-1)).view(b, t, -1);
        var (cos, sin) = CosSin(c, t, h.dtype);
        var causal = ones(t, t, ScalarType.Bool).tril().logical_not();
        var additive = zeros(t, t, ScalarType.Float32).masked_fill(causal, float.MinValue);
        foreach (var layer in model.model.layers)
        {
            var attnIn = Norm(h, layer.input_layernorm);
            h = h + Attention(attnIn, layer.self_attn, c, cos, sin, additive);
            var mlpIn = Norm(h, layer.post_attention_layernorm);
            var m = layer.mlp;
            h = h + LoraLinear(F.silu(LoraLinear(mlpIn, m.gate_proj)) * LoraLinear(mlpIn, m.up_proj), m.down_proj);
        }
        h = Norm(h, model.model.norm);
        var logits = F.linear(h, model.lm_head.weight).to(ScalarType.Float32);
        var shifted = logits.narrow(1, 0, t - 1).reshape(-1, logits.shape[^1]);
        return F.cross_entropy(shifted, ids.narrow(1, 1, t - 1).reshape(-1));
    }

    static Tensor Norm(Tensor x, RmsNorm norm)
    {
        var x32 = x.to(ScalarType.Float32);
        var normed = x32 * rsqrt(x32.pow(2).mean(new long[] { -1 }, keepdim: true) + norm.Eps);
        return norm.weight * normed.to(x.dtype);
    }

    /// <summary>PEFT's lora.Linear.forward: result + lora_B(lora_A(dropout(x))) * scaling, x cast to the adapter dtype.</summary>
    static Tensor LoraLinear(Tensor x, Linear layer)
    {
        var result = F.linear(x, layer.weight, layer.bias);
        foreach (var (_, adapter) in layer.Adapters.All)
        {
            var lora = (LoraLinear)adapter;
            var x32 = x.to(lora.DType);
            var dropped = lora.Dropout > 0 ? F.dropout(x32, lora.Dropout, true) : x32;
            result = result + F.linear(F.linear(dropped, lora.A.weight), lora.B.weight) * lora.Scaling;
        }
        return result.to(x.dtype);
    }

    static Tensor Attention(Tensor x, LlamaAttention a, LlamaConfig c, Tensor cos, Tensor sin, Tensor additiveMask)
    {
        long b = x.shape[0], t = x.shape[1];
        int heads = c.NumAttentionHeads, kv = c.NumKeyValueHeads, d = c.HeadDim;
        var q = Rotate(LoraLinear(x, a.q_proj).view(b, t, heads, d).transpose(1, 2), cos, sin);
        var k = Rotate(LoraLinear(x, a.k_proj).view(b, t, kv, d).transpose(1, 2), cos, sin);
        var v = LoraLinear(x, a.v_proj).view(b, t, kv, d).transpose(1, 2);
        k = k.repeat_interleave(heads / kv, 1);
        v = v.repeat_interleave(heads / kv, 1);
        var scores = q.matmul(k.transpose(2, 3)) / Math.Sqrt(d) + additiveMask;
        var probs = scores.softmax(-1, ScalarType.Float32).to(q.dtype);
        var o = probs.matmul(v).transpose(1, 2).reshape(b, t, heads * d);
        return LoraLinear(o, a.o_proj);
    }

    static Tensor Rotate(Tensor x, Tensor cos, Tensor sin)
    {
        long half = x.shape[^1] / 2;
        var rotated = cat(new[] { -x.narrow(-1, half, half), x.narrow(-1, 0, half) }, -1);
        return x * cos + rotated * sin;
    }

    static (Tensor Cos, Tensor Sin) CosSin(LlamaConfig c, long t, ScalarType dtype)
    {
        var invFreq = tensor(Enumerable.Range(0, c.HeadDim / 2).Select(i => (float)(1.0 / Math.Pow(c.RopeTheta, 2.0 * i / c.HeadDim))).ToArray());
        var freqs = arange(t, ScalarType.Float32).unsqueeze(-1) * invFreq;
        var emb = cat(new[] { freqs, freqs }, -1);
        return (emb.cos().to(dtype), emb.sin().to(dtype));
    }
}
