using PeftSharp.Models.Whisper;
using PeftSharp.Tests.Support;
using F = TorchSharp.torch.nn.functional;

namespace PeftSharp.Tests.Models;

/// <summary>The Whisper modules against equations written here, HF's key names, the sinusoid formula and the KV cache.</summary>
public class WhisperModelTests
{
    [Fact]
    public void State_dict_keys_are_the_HF_checkpoint_keys()
    {
        using var model = TinyWhisper.Random();
        var keys = model.state_dict().Keys.ToHashSet();
        var expected = new List<string>
        {
            "model.encoder.conv1.weight", "model.encoder.conv1.bias", "model.encoder.conv2.weight", "model.encoder.conv2.bias",
            "model.encoder.embed_positions.weight", "model.encoder.layer_norm.weight", "model.encoder.layer_norm.bias",
            "model.decoder.embed_tokens.weight", "model.decoder.embed_positions.weight", "model.decoder.layer_norm.weight", "model.decoder.layer_norm.bias",
            "proj_out.weight",
        };
        string[] linear = { "fc1", "fc2" };
        string[] norms = { "self_attn_layer_norm", "final_layer_norm" };
        foreach (var (stack, attentions) in new[] { ("encoder", new[] { "self_attn" }), ("decoder", new[] { "self_attn", "encoder_attn" }) })
            for (int i = 0; i < 2; i++)
            {
                string p = $"model.{stack}.layers.{i}.";
                foreach (var a in attentions)
                {
                    expected.Add(p + a + ".k_proj.weight"); // k_proj has no bias in Whisper
                    foreach (var proj in new[] { "q_proj", "v_proj", "out_proj" }) { expected.Add($"{p}{a}.{proj}.weight"); expected.Add($"{p}{a}.{proj}.bias"); }
                }
                foreach (var n in linear.Concat(norms).Concat(stack == "decoder" ? new[] { "encoder_attn_layer_norm" } : Array.Empty<string>()))
                {
                    expected.Add($"{p}{n}.weight");
                    expected.Add($"{p}{n}.bias");
                }
            }
        Assert.Equal(expected.Order(StringComparer.Ordinal), keys.Order(StringComparer.Ordinal));
        Assert.Equal(new long[] { 1500, 64 }, model.state_dict()["model.encoder.embed_positions.weight"].shape);
        Assert.Equal(new long[] { 448, 64 }, model.state_dict()["model.decoder.embed_positions.weight"].shape);
        Assert.Same(model.model.decoder.embed_tokens.weight, model.proj_out.weight); // tied
    }

    [Fact]
    public void Encoder_positions_are_openai_sinusoids()
    {
        using var model = new WhisperForConditionalGeneration(TinyWhisper.Config());
        var table = model.model.encoder.embed_positions.weight.to(ScalarType.Float64);
        double step = Math.Log(10000) / 31;
        foreach (int t in new[] { 0, 1, 7, 500, 1499 })
            foreach (int c in new[] { 0, 1, 15, 31, 32, 33, 50, 63 })
            {
                int i = c % 32;
                double angle = t * Math.Exp(-step * i);
                double want = c < 32 ? Math.Sin(angle) : Math.Cos(angle);
                Assert.Equal(want, table[t, c].item<double>(), 5); // fp32 parameters
            }
        Assert.False(model.model.encoder.embed_positions.weight.requires_grad);
    }

    [Fact]
    public void Logits_match_the_equations_written_out()
    {
        using var model = TinyWhisper.Random(seed: 3, dtype: ScalarType.Float64);
        using var features = TinyWhisper.Features(2, seed: 4, ScalarType.Float64);
        using var ids = tensor(new long[] { 50258, 50259, 50359, 50363, 440, 3001, 50258, 50260, 50359, 50363, 17, 9 }, new long[] { 2, 6 });
        using var actual = model.Forward(features, ids);
        using var expected = NaiveForward(model.state_dict(), features, ids);
        Assert.Equal(new long[] { 2, 6, 51865 }, actual.shape);
        Assert.True(actual.sub(expected).abs().max().item<double>() < 1e-5, "logits differ from the reference equations");
    }

    /// <summary>Whisper written from HF's modeling_whisper with plain ops on the state dict (fp64).</summary>
    static Tensor NaiveForward(IDictionary<string, Tensor> w, Tensor features, Tensor ids)
    {
        using var scope = NewDisposeScope();
        Tensor Lin(Tensor x, string p) => F.linear(x, w[p + ".weight"], w.TryGetValue(p + ".bias", out var b) ? b : null);
        Tensor Norm(Tensor x, string p) => F.layer_norm(x, new long[] { 64 }, w[p + ".weight"], w[p + ".bias"], 1e-5);
        Tensor Attention(Tensor x, Tensor kv, string p, bool causal)
        {
            long b = x.shape[0], t = x.shape[1], s = kv.shape[1];
            var q = (Lin(x, p + ".q_proj") * Math.Pow(16, -0.5)).view(b, t, 4, 16).transpose(1, 2);
            var k = Lin(kv, p + ".k_proj").view(b, s, 4, 16).transpose(1, 2);
            var v = Lin(kv, p + ".v_proj").view(b, s, 4, 16).transpose(1, 2);
            var scores = q.matmul(k.transpose(2, 3));
            if (causal) scores = scores.masked_fill(ones(t, s, dtype: ScalarType.Bool).triu(1), double.NegativeInfinity);
            var o = scores.softmax(-1).matmul(v).transpose(1, 2).reshape(b, t, 64);
            return Lin(o, p + ".out_proj");
        }
        Tensor Mlp(Tensor x, string p) => Lin(F.gelu(Lin(x, p + ".fc1")), p + ".fc2");

        var h = F.gelu(F.conv1d(features, w["model.encoder.conv1.weight"], w["model.encoder.conv1.bias"], padding: 1));
        h = F.gelu(F.conv1d(h, w["model.encoder.conv2.weight"], w["model.encoder.conv2.bias"], stride: 2, padding: 1));
        h = h.permute(0, 2, 1) + w["model.encoder.embed_positions.weight"];
        for (int i = 0; i < 2; i++)
        {
            string p = $"model.encoder.layers.{i}";
            var n = Norm(h, p + ".self_attn_layer_norm");
            h = h + Attention(n, n, p + ".self_attn", false);
            h = h + Mlp(Norm(h, p + ".final_layer_norm"), p);
        }
        var memory = Norm(h, "model.encoder.layer_norm");

        long tokens = ids.shape[1];
        var x = w["model.decoder.embed_tokens.weight"].index_select(0, ids.reshape(-1)).view(ids.shape[0], tokens, 64)
            + w["model.decoder.embed_positions.weight"].narrow(0, 0, tokens);
        for (int i = 0; i < 2; i++)
        {
            string p = $"model.decoder.layers.{i}";
            var n = Norm(x, p + ".self_attn_layer_norm");
            x = x + Attention(n, n, p + ".self_attn", true);
            x = x + Attention(Norm(x, p + ".encoder_attn_layer_norm"), memory, p + ".encoder_attn", false);
            x = x + Mlp(Norm(x, p + ".final_layer_norm"), p);
        }
        x = Norm(x, "model.decoder.layer_norm");
        return F.linear(x, w["model.decoder.embed_tokens.weight"]).MoveToOuterDisposeScope();
    }

    [Fact]
    public void Decoding_with_the_cache_equals_the_full_forward()
    {
        using var model = TinyWhisper.Random(seed: 5, dtype: ScalarType.Float64);
        using var features = TinyWhisper.Features(2, seed: 6, ScalarType.Float64);
        using var ids = tensor(new long[] { 50258, 50259, 50359, 50363, 440, 3001, 220, 50258, 50260, 50359, 50363, 17, 9, 812 }, new long[] { 2, 7 });
        using var _ = no_grad();
        using var memory = model.Encode(features);
        using var full = model.Decode(ids, memory);
        using var cache = model.NewCache();
        // 4 at once (the prefix), then 1, then 2 on top of the cache (the explicit-mask path), then 1.
        var pieces = new List<Tensor>();
        long at = 0;
        foreach (int n in new[] { 4, 1, 2 })
        {
            pieces.Add(model.Decode(ids.narrow(1, at, n), memory, cache));
            at += n;
        }
        Assert.Equal(7, cache.Length);
        using var incremental = cat(pieces, 1);
        Assert.True(full.sub(incremental).abs().max().item<double>() < 1e-9, "cached decoding differs from the full forward");
        foreach (var p in pieces) p.Dispose();
    }

    [Fact]
    public void Checkpointed_training_step_gives_the_same_gradients()
    {
        var grads = new List<Dictionary<string, Tensor>>();
        foreach (bool checkpointing in new[] { false, true })
        {
            using var model = TinyWhisper.Random(seed: 7, dtype: ScalarType.Float64);
            model.GradientCheckpointing = checkpointing;
            foreach (var (name, p) in model.named_parameters()) p.requires_grad = name.Contains("fc1") || name.Contains("q_proj");
            using var features = TinyWhisper.Features(1, seed: 8, ScalarType.Float64);
            using var ids = tensor(new long[] { 50258, 50259, 50359, 50363, 440 }, new long[] { 1, 5 });
            using var logits = model.Forward(features, ids);
            using var loss = logits.pow(2).mean();
            loss.backward();
            grads.Add(model.named_parameters().Where(p => p.parameter.grad is not null).ToDictionary(p => p.name, p => p.parameter.grad!.clone()));
        }
        Assert.Equal(grads[0].Keys.Order(), grads[1].Keys.Order());
        Assert.Contains("model.encoder.layers.0.fc1.weight", grads[0].Keys);
        Assert.Contains("model.decoder.layers.1.encoder_attn.q_proj.weight", grads[0].Keys);
        foreach (var (name, g) in grads[0])
            Assert.True(g.sub(grads[1][name]).abs().max().item<double>() < 1e-10, $"gradient of {name} differs under checkpointing");
    }

    [Fact]
    public void Decoder_inputs_from_labels_shift_right_and_replace_ignored_labels()
    {
        using var model = new WhisperForConditionalGeneration(TinyWhisper.Config());
        using var labels = tensor(new long[] { 50259, 50359, 50363, 440, 50257, 50259, 50359, 50363, -100, -100 }, new long[] { 2, 5 });
        using var inputs = model.DecoderInputsFromLabels(labels);
        Assert.Equal(new long[] { 50258, 50259, 50359, 50363, 440, 50258, 50259, 50359, 50363, 50257 }, inputs.data<long>().ToArray());
    }

    [Fact]
    public void Features_of_the_wrong_shape_are_rejected_with_the_expected_shape()
    {
        using var model = new WhisperForConditionalGeneration(TinyWhisper.Config());
        using var features = zeros(1, 128, 3000);
        var e = Assert.Throws<PeftSharpException>(() => model.Encode(features));
        Assert.Contains("[batch, 80, 3000]", e.Message);
    }
}
