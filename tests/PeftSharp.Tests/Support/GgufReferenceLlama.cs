namespace PeftSharp.Tests.Support;

/// <summary>
/// A plain forward pass over the tensors of a llama-architecture GGUF, computed as llama.cpp's "llama" arch does:
/// rotary embedding on interleaved pairs (x[2i], x[2i+1]) (ggml's normal rope mode), grouped KV heads, RMSNorm, SwiGLU,
/// the output projection falling back to token_embd when output.weight is absent.
/// </summary>
public static class GgufReferenceLlama
{
    public static Tensor Logits(GgufFile f, long[] ids)
    {
        string arch = (string)f["general.architecture"];
        int heads = (int)(uint)f[$"{arch}.attention.head_count"], kvHeads = (int)(uint)f[$"{arch}.attention.head_count_kv"];
        int layers = (int)(uint)f[$"{arch}.block_count"];
        float eps = (float)f[$"{arch}.attention.layer_norm_rms_epsilon"], theta = (float)f[$"{arch}.rope.freq_base"];
        int d = (int)(uint)f[$"{arch}.rope.dimension_count"];
        Tensor W(string n) => f.Float(n);
        Tensor Norm(Tensor x, string n) => W(n) * (x / (x.pow(2).mean([-1], keepdim: true) + eps).sqrt());
        // Llama-3 rope scaling: llama.cpp divides each frequency by rope_freqs[i]
        var divisors = f.Tensors.ContainsKey("rope_freqs.weight") ? f.Float("rope_freqs.weight").data<float>().ToArray() : Enumerable.Repeat(1f, d / 2).ToArray();
        int t = ids.Length;
        var h = W("token_embd.weight").index_select(0, tensor(ids));
        for (int l = 0; l < layers; l++)
        {
            string p = $"blk.{l}.";
            var x = Norm(h, p + "attn_norm.weight");
            var q = x.matmul(W(p + "attn_q.weight").t());
            var k = x.matmul(W(p + "attn_k.weight").t());
            var v = x.matmul(W(p + "attn_v.weight").t());
            var outs = new List<Tensor>();
            for (int hq = 0; hq < heads; hq++)
            {
                int hk = hq / (heads / kvHeads);
                var qh = RopePairs(q.narrow(1, hq * d, d), theta, divisors);
                var kh = RopePairs(k.narrow(1, hk * d, d), theta, divisors);
                var scores = qh.matmul(kh.t()) / Math.Sqrt(d);
                scores = scores.masked_fill(ones(t, t).triu(1).to(ScalarType.Bool), double.NegativeInfinity);
                outs.Add(scores.softmax(1).matmul(v.narrow(1, hk * d, d)));
            }
            h = h + cat(outs, 1).matmul(W(p + "attn_output.weight").t());
            var y = Norm(h, p + "ffn_norm.weight");
            var gate = y.matmul(W(p + "ffn_gate.weight").t());
            var up = y.matmul(W(p + "ffn_up.weight").t());
            h = h + (gate * gate.sigmoid() * up).matmul(W(p + "ffn_down.weight").t());
        }
        h = Norm(h, "output_norm.weight");
        return h.matmul(W(f.Tensors.ContainsKey("output.weight") ? "output.weight" : "token_embd.weight").t());
    }

    // Rotates (x[2i], x[2i+1]) by pos * theta^(-2i/d) / divisor[i], pair by pair.
    static Tensor RopePairs(Tensor x, float theta, float[] divisors)
    {
        long t = x.shape[0], d = x.shape[1];
        var y = x.clone();
        for (long pos = 0; pos < t; pos++)
            for (long i = 0; i < d / 2; i++)
            {
                double angle = pos * Math.Pow(theta, -2.0 * i / d) / divisors[i];
                var a = x[pos, 2 * i].item<float>();
                var b = x[pos, 2 * i + 1].item<float>();
                y[pos, 2 * i] = tensor((float)(a * Math.Cos(angle) - b * Math.Sin(angle)));
                y[pos, 2 * i + 1] = tensor((float)(a * Math.Sin(angle) + b * Math.Cos(angle)));
            }
        return y;
    }
}
