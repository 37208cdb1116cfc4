using PeftSharp.Adapters.Lora;
using PeftSharp.IO.Gguf;
using PeftSharp.Models;
using PeftSharp.Models.Llama;
using PeftSharp.Peft;
using PeftSharp.Tests.Support;
using static PeftSharp.Tests.Peft.LoraTestKit;

namespace PeftSharp.Tests.IO;

/// <summary>LoRA adapters in llama.cpp's adapter GGUF: keys, names, shapes, and W' = W + alpha/r · B·A on the GGUF side.</summary>
public class GgufAdapterExportTests
{
    static string Checkpoint => Path.Combine(Fixtures.Require("models", "stories260K"), "stories260K.bin");

    /// <summary>Exports base, adapter and merged model, and checks llama.cpp's formula rebuilds the merged tensors.</summary>
    static GgufFile CheckAgainstMerge(LoraConfig config, int expectedFolded)
    {
        using var dir = Fixtures.NewTempDir();
        using var lm = PretrainedCausalLM.Load(Checkpoint);
        var basePath = dir.File("base.gguf");
        LlamaGgufExport.Write(lm.Model, lm.Tokenizer!, basePath, GgufFileType.F32, "base");
        var peft = PeftModel.Create(lm.Model, config, seed: 1);
        Randomize(peft, seed: 4, scale: 0.1);
        var adapterPath = dir.File("adapter.gguf");
        var summary = LoraGgufExport.Write(peft, lm.Config, adapterPath, GgufFileType.F32, "lora");
        Assert.Equal(expectedFolded, summary.Folded);
        peft.MergeAndUnload();
        var mergedPath = dir.File("merged.gguf");
        LlamaGgufExport.Write(lm.Model, lm.Tokenizer!, mergedPath, GgufFileType.F32, "merged");

        var (b, a, m) = (GgufFile.Read(basePath), GgufFile.Read(adapterPath), GgufFile.Read(mergedPath));
        Assert.Equal("llama", a["general.architecture"]);
        Assert.Equal("adapter", a["general.type"]);
        Assert.Equal("lora", a["adapter.type"]);
        float alpha = (float)a["adapter.lora.alpha"];
        Assert.Equal((float)config.LoraAlpha, alpha);
        Assert.Equal(summary.Modules * 2, a.Tensors.Count);
        foreach (var name in a.TensorOrder.Where(n => n.EndsWith(".lora_a", StringComparison.Ordinal)))
        {
            var baseName = name[..^".lora_a".Length];
            var (la, lb) = (a.Tensors[name], a.Tensors[baseName + ".lora_b"]);
            // llama.cpp's checks: a.ne[0] == W.ne[0] (in), b.ne[1] == W.ne[1] (out), a.ne[1] == b.ne[0] (r)
            Assert.Equal(b.Tensors[baseName].Dims[0], la.Dims[0]);
            Assert.Equal(b.Tensors[baseName].Dims[1], lb.Dims[1]);
            Assert.Equal(la.Dims[1], lb.Dims[0]);
            float scale = alpha / lb.Dims[0];   // llama.cpp: alpha / rank, rank = lora_b.ne[0]
            var rebuilt = b.Float(baseName) + scale * a.Float(baseName + ".lora_b").matmul(a.Float(name));
            var err = (rebuilt - m.Float(baseName)).abs().max().item<float>();
            Assert.True(err < 1e-5f, $"{baseName}: base + alpha/r·B·A differs from the merged tensor by {err}");
        }
        return a;
    }

    [Fact]
    public void Plain_lora_on_every_linear_rebuilds_the_merged_model_with_q_k_permuted_lora_b()
    {
        var a = CheckAgainstMerge(new LoraConfig { TargetRegex = LoraConfig.AllLinear, R = 4, LoraAlpha = 8 }, expectedFolded: 0);
        Assert.Equal(5 * 7 * 2, a.Tensors.Count);
        Assert.Equal([64L, 4L], a.Tensors["blk.0.attn_q.weight.lora_a"].Dims);
        Assert.Equal([4L, 32L], a.Tensors["blk.0.attn_k.weight.lora_b"].Dims);
        Assert.Equal([172L, 4L], a.Tensors["blk.4.ffn_down.weight.lora_a"].Dims);
    }

    [Fact]
    public void Rslora_and_rank_patterns_fold_their_scale_into_lora_b()
    {
        var config = new LoraConfig
        {
            TargetModules = ["q_proj", "k_proj", "v_proj", "down_proj"], R = 4, LoraAlpha = 16, UseRslora = true,
            RankPattern = new Dictionary<string, int> { ["v_proj"] = 2 },
        };
        var a = CheckAgainstMerge(config, expectedFolded: 5 * 4);
        Assert.Equal(2L, a.Tensors["blk.1.attn_v.weight.lora_b"].Dims[0]);
    }

    [Fact]
    public void Dora_and_non_lora_adapters_are_refused_with_the_way_out()
    {
        using var lm = PretrainedCausalLM.Load(Checkpoint);
        using var dir = Fixtures.NewTempDir();
        var dora = PeftModel.Create(lm.Model, new LoraConfig { TargetModules = ["q_proj"], UseDora = true }, seed: 1);
        var e = Assert.Throws<ConfigurationException>(() => LoraGgufExport.Write(dora, lm.Config, dir.File("d.gguf"), GgufFileType.F32, "d"));
        Assert.Contains("DoRA", e.Message);
        Assert.Contains("merged model", e.Message);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }
}
