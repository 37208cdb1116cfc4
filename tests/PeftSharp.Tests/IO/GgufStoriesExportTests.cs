using PeftSharp.IO.Gguf;
using PeftSharp.Models;
using PeftSharp.Models.Llama;
using PeftSharp.Tests.Support;
using PeftSharp.Tokenization.Llama2c;

namespace PeftSharp.Tests.IO;

/// <summary>The real stories260K (llama2.c checkpoint and tok512.bin) exported to GGUF.</summary>
public class GgufStoriesExportTests
{
    static string Checkpoint => Path.Combine(Fixtures.Require("models", "stories260K"), "stories260K.bin");

    internal static GgufFile ExportStories(TempDir dir, GgufFileType type)
    {
        using var lm = PretrainedCausalLM.Load(Checkpoint);
        var path = dir.File($"stories-{type}.gguf");
        LlamaGgufExport.Write(lm.Model, lm.Tokenizer!, path, type, "stories260K");
        return GgufFile.Read(path);
    }

    [Fact]
    public void Tokenizer_metadata_holds_tok512_with_scores_and_types()
    {
        using var dir = Fixtures.NewTempDir();
        var f = ExportStories(dir, GgufFileType.F32);
        var tok = new Llama2cTokenizer(Path.Combine(Fixtures.Require("models", "stories260K"), "tok512.bin"));
        var tokens = f.Array<string>("tokenizer.ggml.tokens");
        var scores = f.Array<float>("tokenizer.ggml.scores");
        var types = f.Array<int>("tokenizer.ggml.token_type");
        Assert.Equal("llama", f["tokenizer.ggml.model"]);
        Assert.Equal(512, tokens.Count);
        Assert.Equal(512, scores.Count);
        Assert.Equal(512, types.Count);
        Assert.Equal(["<unk>", "<s>", "</s>"], tokens.Take(3));
        Assert.Equal([2, 3, 3], types.Take(3));
        for (int b = 0; b < 256; b++)
        {
            Assert.Equal($"<0x{b:X2}>", tokens[3 + b]);
            Assert.Equal(6, types[3 + b]);
        }
        Assert.All(types.Skip(259), t => Assert.Equal(1, t));
        Assert.Equal(Enumerable.Range(0, 512).Select(tok.Score), scores);
        // SentencePiece's "▁" where llama2.c's export wrote spaces
        Assert.DoesNotContain(tokens.Skip(259), t => t.Contains(' '));
        Assert.Equal(tok.IdToToken(400).Replace(' ', '▁'), tokens[400]);
        Assert.Contains(tokens, t => t.StartsWith('▁'));
        Assert.Equal(1u, f["tokenizer.ggml.bos_token_id"]);
        Assert.Equal(2u, f["tokenizer.ggml.eos_token_id"]);
        Assert.Equal(0u, f["tokenizer.ggml.unknown_token_id"]);
        Assert.False(f.Metadata.ContainsKey("tokenizer.ggml.padding_token_id"));
        Assert.Equal(true, f["tokenizer.ggml.add_bos_token"]);
        Assert.Equal(false, f["tokenizer.ggml.add_eos_token"]);
    }

    [Fact]
    public void Weights_equal_the_llama2c_file_which_already_holds_llama_cpp_rope_layout()
    {
        using var dir = Fixtures.NewTempDir();
        var f = ExportStories(dir, GgufFileType.F32);
        f.AssertLlamaShape(embedding: 64, blocks: 5, heads: 8, kvHeads: 4, feedForward: 172, context: 512, ropeDims: 8, rmsEps: 1e-5f);
        Assert.False(f.Tensors.ContainsKey("output.weight"));       // llama2.c's shared classifier
        Assert.Equal(2 + 5 * 9, f.Tensors.Count);

        // llama2.c stores wq/wk with interleaved rotary pairs, which is what llama.cpp's llama arch expects: the
        // export's permutation of PeftSharp's HF-layout weights must give back the file's own floats.
        var raw = File.ReadAllBytes(Checkpoint);
        const int dim = 64, layers = 5, vocab = 512, kvDim = 32;
        float[] Floats(long offsetFloats, int count) =>
            Enumerable.Range(0, count).Select(i => BitConverter.ToSingle(raw, 28 + (int)(4 * (offsetFloats + i)))).ToArray();
        long wq = (long)vocab * dim + layers * dim, wk = wq + (long)layers * dim * dim;
        Assert.Equal(Floats(0, vocab * dim), f.Float("token_embd.weight").data<float>().ToArray());
        Assert.Equal(Floats(wq + 3L * dim * dim, dim * dim), f.Float("blk.3.attn_q.weight").data<float>().ToArray());
        Assert.Equal(Floats(wk + 2L * kvDim * dim, kvDim * dim), f.Float("blk.2.attn_k.weight").data<float>().ToArray());
    }

    [Fact]
    public void Q8_0_falls_back_to_f16_for_ffn_down_whose_rows_are_172_wide()
    {
        using var dir = Fixtures.NewTempDir();
        var f = ExportStories(dir, GgufFileType.Q8_0);
        Assert.Equal(GgufTensorType.F16, f.Tensors["blk.0.ffn_down.weight"].Type);
        Assert.Equal(GgufTensorType.Q8_0, f.Tensors["blk.0.ffn_up.weight"].Type);
        Assert.Equal(GgufTensorType.Q8_0, f.Tensors["token_embd.weight"].Type);
        Assert.Equal(GgufTensorType.F32, f.Tensors["blk.4.ffn_norm.weight"].Type);
        Assert.Equal((uint)GgufFileType.Q8_0, f["general.file_type"]);
    }
}
