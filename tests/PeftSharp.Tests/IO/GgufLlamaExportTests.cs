using PeftSharp.IO.Gguf;
using PeftSharp.IO.LlamaC;
using PeftSharp.Models.Llama;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.IO;

/// <summary>A Llama-family model as GGUF: every tensor and key for each outtype, and the q/k permutation llama.cpp expects.</summary>
public class GgufLlamaExportTests
{
    static GgufFile Export(LlamaForCausalLM model, GgufFileType type, TempDir dir)
    {
        var path = dir.File($"m-{type}.gguf");
        GgufWriter.Write(path, LlamaGgufExport.Metadata(model.Config, "tiny", type), LlamaGgufExport.Tensors(model, type));
        return GgufFile.Read(path);
    }

    static readonly Dictionary<string, string> Parts = new()
    {
        ["input_layernorm"] = "attn_norm", ["post_attention_layernorm"] = "ffn_norm", ["self_attn.q_proj"] = "attn_q",
        ["self_attn.k_proj"] = "attn_k", ["self_attn.v_proj"] = "attn_v", ["self_attn.o_proj"] = "attn_output",
        ["mlp.gate_proj"] = "ffn_gate", ["mlp.up_proj"] = "ffn_up", ["mlp.down_proj"] = "ffn_down",
    };

    /// <summary>The GGUF tensor's values brought back to PeftSharp's (HF) layout with the llama2.c loader's own permutation.</summary>
    static Tensor BackToHf(GgufFile f, string ggufName, LlamaConfig c, Func<string, Tensor> read)
    {
        var t = read(ggufName);
        if (ggufName.Contains("attn_q.weight")) return LlamaCCheckpoint.PairsToHalves(t, c.NumAttentionHeads);
        if (ggufName.Contains("attn_k.weight")) return LlamaCCheckpoint.PairsToHalves(t, c.NumKeyValueHeads);
        return t;
    }

    [Theory]
    [InlineData(GgufFileType.F32)]
    [InlineData(GgufFileType.F16)]
    [InlineData(GgufFileType.BF16)]
    [InlineData(GgufFileType.Q8_0)]
    public void Every_tensor_and_key_round_trips(GgufFileType type)
    {
        var c = TinyModels.Config(kvHeads: 2);
        using var model = TinyModels.Random(c, seed: 5);
        using var dir = Fixtures.NewTempDir();
        var f = Export(model, type, dir);

        Assert.Equal("llama", f["general.architecture"]);
        Assert.Equal("tiny", f["general.name"]);
        Assert.Equal((uint)type, f["general.file_type"]);
        Assert.Equal(97u, f["llama.vocab_size"]);
        f.AssertLlamaShape(embedding: 32, blocks: 2, heads: 4, kvHeads: 2, feedForward: 48, context: 128, ropeDims: 8, rmsEps: 1e-6f);
        Assert.Equal(10000f, f["llama.rope.freq_base"]);
        Assert.False(f.Metadata.ContainsKey("llama.attention.key_length"));   // head_dim = hidden / heads

        var sd = model.state_dict();
        var expectedNames = sd.Keys.Select(k => k switch
        {
            "model.embed_tokens.weight" => "token_embd.weight",
            "model.norm.weight" => "output_norm.weight",
            "lm_head.weight" => "output.weight",
            _ => Parts.Single(p => k.EndsWith($".{p.Key}.weight", StringComparison.Ordinal)) is var part
                ? $"blk.{k.Split('.')[2]}.{part.Value}.weight" : throw new InvalidOperationException(k),
        }).ToList();
        Assert.Equal(expectedNames, f.TensorOrder);
        foreach (var (key, name) in sd.Keys.Zip(expectedNames))
        {
            var info = f.Tensors[name];
            var weight = sd[key];
            Assert.Equal(weight.shape.Reverse(), info.Dims);
            bool norm = name.EndsWith("_norm.weight", StringComparison.Ordinal);
            var expectedType = norm ? GgufTensorType.F32 : type switch
            {
                GgufFileType.F32 => GgufTensorType.F32,
                GgufFileType.F16 => GgufTensorType.F16,
                GgufFileType.BF16 => GgufTensorType.BF16,
                _ => weight.shape[^1] % 32 == 0 ? GgufTensorType.Q8_0 : GgufTensorType.F16,   // ffn_down rows are 48 wide
            };
            Assert.Equal(expectedType, info.Type);
            var back = BackToHf(f, name, c, f.Float);
            switch (info.Type)
            {
                case GgufTensorType.F32:
                    Assert.Equal(weight.data<float>().ToArray(), back.data<float>().ToArray());
                    break;
                case GgufTensorType.F16 or GgufTensorType.BF16:
                    var dt = info.Type == GgufTensorType.F16 ? ScalarType.Float16 : ScalarType.BFloat16;
                    Assert.Equal(weight.to(dt).to(ScalarType.Float32).data<float>().ToArray(), back.data<float>().ToArray());
                    break;
                default:
                    // bytes: the reference quantization of what llama.cpp should hold (the permuted rows), and the
                    // dequantized values within the Q8_0 step of each block
                    var permuted = name.Contains("attn_q") ? LlamaGgufNames.HalvesToPairs(weight, c.NumAttentionHeads)
                        : name.Contains("attn_k") ? LlamaGgufNames.HalvesToPairs(weight, c.NumKeyValueHeads) : weight;
                    Assert.Equal(GgufWriterTests.ReferenceQ8(permuted), info.Bytes);
                    var step = weight.reshape(-1, 32).abs().amax([1]).max().item<float>() / 127;
                    var err = (back - weight).abs().max().item<float>();
                    // half a step of rounding, plus fp16's rounding of d (2^-11 relative) times |q| <= 127
                    Assert.True(err <= step * (0.5f + 127f / 2048), $"{name}: error {err} over half a step {step / 2}");
                    break;
            }
        }
    }

    [Fact]
    public void A_reference_forward_from_the_gguf_with_llama_cpp_rope_reproduces_the_model()
    {
        foreach (var tied in new[] { false, true })
        {
            var c = TinyModels.Config(kvHeads: 2, tied: tied);
            using var model = TinyModels.Random(c, seed: 9);
            using var dir = Fixtures.NewTempDir();
            var f = Export(model, GgufFileType.F32, dir);
            Assert.Equal(!tied, f.Tensors.ContainsKey("output.weight"));
            long[] ids = [1, 5, 9, 23, 42, 7, 88, 3];
            using var _ = no_grad();
            var expected = model.Forward(tensor(ids).unsqueeze(0))[0];
            var actual = GgufReferenceLlama.Logits(f, ids);
            Assert.True((expected - actual).abs().max().item<float>() < 1e-4f, $"tied={tied}: GGUF forward differs from the model");
            // and without the permutation the same forward is wrong: the test can tell
            var unpermuted = dir.File("raw.gguf");
            GgufWriter.Write(unpermuted, LlamaGgufExport.Metadata(c, "raw", GgufFileType.F32),
                model.state_dict().Where(kv => !model.TiedKeys.Contains(kv.Key)).Select(kv => GgufTensorEncoder.Lazy(
                    LlamaGgufNames.TensorName(kv.Key), kv.Value.shape, GgufTensorType.F32, () => kv.Value.detach())).ToList());
            Assert.True((expected - GgufReferenceLlama.Logits(GgufFile.Read(unpermuted), ids)).abs().max().item<float>() > 1e-3f);
        }
    }

    [Fact]
    public void Qwen2_keeps_halves_layout_and_writes_biases_under_its_own_architecture()
    {
        var c = TinyModels.Config(type: "qwen2");
        using var model = TinyModels.Random(c, seed: 2);
        using var dir = Fixtures.NewTempDir();
        var f = Export(model, GgufFileType.F32, dir);
        Assert.Equal("qwen2", f["general.architecture"]);
        Assert.Equal(4u, f["qwen2.attention.head_count"]);
        Assert.Equal(model.state_dict()["model.layers.0.self_attn.q_proj.weight"].data<float>().ToArray(), f.Float("blk.0.attn_q.weight").data<float>().ToArray());
        Assert.Equal(model.state_dict()["model.layers.1.self_attn.k_proj.bias"].data<float>().ToArray(), f.Float("blk.1.attn_k.bias").data<float>().ToArray());
        Assert.Equal(GgufTensorType.F32, f.Tensors["blk.1.attn_k.bias"].Type);
    }

    [Fact]
    public void Llama3_rope_scaling_writes_the_frequency_divisors_and_linear_scaling_its_keys()
    {
        var s = new RopeScaling("llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 64);
        var c = TinyModels.Config() with { RopeScaling = s, HeadDim = 8 };
        using var model = TinyModels.Random(c);
        using var dir = Fixtures.NewTempDir();
        var factors = Export(model, GgufFileType.F16, dir).Float("rope_freqs.weight").data<float>().ToArray();
        Assert.Equal(4, factors.Length);
        Assert.Equal(1f, factors[0]);                   // wavelength 2π < 64/4: unchanged
        Assert.Equal(8f, factors[3], 4);                // 2π·10000^(6/8) ≈ 6283 > 64: divided by the factor
        Assert.True(factors.Zip(factors.Skip(1)).All(p => p.First <= p.Second));
        var linear = TinyModels.Config() with { RopeScaling = new RopeScaling("linear", Factor: 2) };
        using var lm = TinyModels.Random(linear);
        var md = LlamaGgufExport.Metadata(linear, "x", GgufFileType.F32);
        Assert.Equal("linear", md["llama.rope.scaling.type"].Value);
        Assert.Equal(2f, md["llama.rope.scaling.factor"].Value);
    }
}
