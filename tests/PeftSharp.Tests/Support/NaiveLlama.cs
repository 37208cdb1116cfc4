using PeftSharp.Models.Llama;

namespace PeftSharp.Tests.Support;

/// <summary>
/// A deliberately plain Llama forward pass written from the equations (explicit loops over heads, explicit
/// softmax, rotation computed pair by pair), used as an independent reference for the model.
/// </summary>
public static class NaiveLlama
{
    public static Tensor Logits(LlamaForCausalLM m, Tensor ids)
    {
        var c = m.Config;
        long t = ids.shape[1];
        var sd = m.state_dict();
        Tensor W(string k) => sd[k];
        Tensor Norm(Tensor x, Tensor w) => w * (x / (x.pow(2).mean(new long[] { -1 }, keepdim: true) + c.RmsNormEps).sqrt());
        Tensor Lin(Tensor x, string p) => x.matmul(W(p + ".weight").t()) + (sd.ContainsKey(p + ".bias") ? W(p + ".bias") : zeros(1));

        var h = W("model.embed_tokens.weight").index_select(0, ids[0]); // [T, hidden]
        int d = c.HeadDim, half = d / 2;
        for (int l = 0; l < c.NumHiddenLayers; l++)
        {
            string p = $"model.layers.{l}.";
            var x = Norm(h, W(p + "input_layernorm.weight"));
            var q = Lin(x, p + "self_attn.q_proj");
            var k = Lin(x, p + "self_attn.k_proj");
            var v = Lin(x, p + "self_attn.v_proj");
            var heads = new List<Tensor>();
            for (int hq = 0; hq < c.NumAttentionHeads; hq++)
            {
                int hk = hq / (c.NumAttentionHeads / c.NumKeyValueHeads);
                var qh = Rope(q.narrow(1, hq * d, d), c.RopeTheta, half);
                var kh = Rope(k.narrow(1, hk * d, d), c.RopeTheta, half);
                var vh = v.narrow(1, hk * d, d);
                var scores = qh.matmul(kh.t()) / Math.Sqrt(d);
                var causal = ones(t, t).triu(1).to(ScalarType.Bool);
                scores = scores.masked_fill(causal, double.NegativeInfinity);
                var e = (scores - scores.max(1, keepdim: true).values).exp();
                heads.Add((e / e.sum(1, keepdim: true)).matmul(vh));
            }
            h = h + Lin(cat(heads.ToArray(), 1), p + "self_attn.o_proj");
            var y = Norm(h, W(p + "post_attention_layernorm.weight"));
            var g = Lin(y, p + "mlp.gate_proj");
            h = h + Lin(g * g.sigmoid() * Lin(y, p + "mlp.up_proj"), p + "mlp.down_proj");
        }
        h = Norm(h, W("model.norm.weight"));
        var head = c.TieWordEmbeddings ? W("model.embed_tokens.weight") : W("lm_head.weight");
        return h.matmul(head.t()).unsqueeze(0);
    }

    /// <summary>Rotates (x_i, x_{i+half}) by angle pos * theta^(-2i/d), position by position.</summary>
    static Tensor Rope(Tensor x, double theta, int half)
    {
        long t = x.shape[0];
        var outRows = new List<Tensor>();
        for (int pos = 0; pos < t; pos++)
        {
            var row = x[pos];
            var a = new float[half * 2];
            for (int i = 0; i < half; i++)
            {
                double ang = pos * Math.Pow(theta, -2.0 * i / (half * 2));
                float x1 = row[i].item<float>(), x2 = row[i + half].item<float>();
                a[i] = (float)(x1 * Math.Cos(ang) - x2 * Math.Sin(ang));
                a[i + half] = (float)(x2 * Math.Cos(ang) + x1 * Math.Sin(ang));
            }
            outRows.Add(tensor(a));
        }
        return stack(outRows.ToArray());
    }
}
