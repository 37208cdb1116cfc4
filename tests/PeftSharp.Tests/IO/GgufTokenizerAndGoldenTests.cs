using System.Text.Json.Nodes;
using PeftSharp.IO.Gguf;
using PeftSharp.IO.SafeTensors;
using PeftSharp.Models;
using PeftSharp.Models.Llama;
using PeftSharp.Tests.Support;
using PeftSharp.Tokenization;
using PeftSharp.Tokenization.SentencePiece;

namespace PeftSharp.Tests.IO;

/// <summary>Tokenizer metadata for each tokenizer kind, and exports of transformers' golden checkpoints.</summary>
public class GgufTokenizerAndGoldenTests
{
    static GgufFile Vocabulary(ITextTokenizer tok, int vocabSize, string? chatTemplate = null)
    {
        using var dir = Fixtures.NewTempDir();
        var md = new GgufMetadata();
        GgufVocabulary.AddTo(md, tok, vocabSize, chatTemplate);
        GgufWriter.Write(dir.File("t.gguf"), md, []);
        return GgufFile.Read(dir.File("t.gguf"));
    }

    [Fact]
    public void Byte_level_bpe_becomes_gpt2_with_the_files_merges_and_padded_vocabulary()
    {
        var folder = Fixtures.Golden("tokenizers", "bytelevel_llama3");
        var tok = TokenizerLoader.FromFolder(folder);
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "tokenizer.json")))!;
        var f = Vocabulary(tok, tok.VocabSize + 3);
        Assert.Equal("gpt2", f["tokenizer.ggml.model"]);
        var tokens = f.Array<string>("tokenizer.ggml.tokens");
        var types = f.Array<int>("tokenizer.ggml.token_type");
        Assert.Equal(tok.VocabSize + 3, tokens.Count);
        foreach (var (token, id) in json["model"]!["vocab"]!.AsObject()) Assert.Equal(token, tokens[(int)id!]);
        foreach (var added in json["added_tokens"]!.AsArray())
        {
            Assert.Equal((string)added!["content"]!, tokens[(int)added["id"]!]);
            Assert.Equal(3, types[(int)added["id"]!]);            // special added tokens are control tokens
        }
        Assert.Equal(json["model"]!["merges"]!.AsArray().Select(m => m is JsonArray p ? $"{p[0]} {p[1]}" : (string)m!), f.Array<string>("tokenizer.ggml.merges"));
        Assert.Equal([$"[PAD{tok.VocabSize}]", $"[PAD{tok.VocabSize + 1}]", $"[PAD{tok.VocabSize + 2}]"], tokens.TakeLast(3));
        Assert.All(types.TakeLast(3), t => Assert.Equal(5, t));
        Assert.False(f.Metadata.ContainsKey("tokenizer.ggml.scores"));
        Assert.Equal((uint)tok.TokenToId("<|begin_of_text|>")!, f["tokenizer.ggml.bos_token_id"]);
        Assert.Equal((uint)tok.TokenToId("<|end_of_text|>")!, f["tokenizer.ggml.eos_token_id"]);
        Assert.Throws<ConfigurationException>(() => Vocabulary(tok, tok.VocabSize - 1));
        Assert.Equal("llama-bpe", f["tokenizer.ggml.pre"]);
        var qwen = TokenizerLoader.FromFolder(Fixtures.Golden("tokenizers", "bytelevel_qwen2"));
        Assert.Equal("qwen2", Vocabulary(qwen, qwen.VocabSize)["tokenizer.ggml.pre"]);
        Assert.False(Vocabulary(TokenizerLoader.FromFolder(Fixtures.Golden("tokenizers", "sp_bpe_hf")), 800).Metadata.ContainsKey("tokenizer.ggml.pre"));
    }

    [Fact]
    public void Sentencepiece_model_and_its_tokenizer_json_give_the_same_llama_vocabulary()
    {
        var model = SentencePieceModel.Parse(Fixtures.Golden("tokenizers", "sp_bpe", "tokenizer.model"));
        var fromModel = Vocabulary(TokenizerLoader.FromFolder(Fixtures.Golden("tokenizers", "sp_bpe")), model.Pieces.Count, chatTemplate: "{{ messages }}");
        Assert.Equal("llama", fromModel["tokenizer.ggml.model"]);
        Assert.Equal(model.Pieces.Select(p => p.Text), fromModel.Array<string>("tokenizer.ggml.tokens"));
        Assert.Equal(model.Pieces.Select(p => p.Score), fromModel.Array<float>("tokenizer.ggml.scores"));
        Assert.Equal(model.Pieces.Select(p => (int)p.Type), fromModel.Array<int>("tokenizer.ggml.token_type"));
        Assert.Contains(6, fromModel.Array<int>("tokenizer.ggml.token_type"));
        Assert.Equal("{{ messages }}", fromModel["tokenizer.chat_template"]);
        Assert.Equal(true, fromModel["tokenizer.ggml.add_bos_token"]);

        var hf = TokenizerLoader.FromFolder(Fixtures.Golden("tokenizers", "sp_bpe_hf"));
        var fromJson = Vocabulary(hf, model.Pieces.Count);
        Assert.Equal("llama", fromJson["tokenizer.ggml.model"]);
        Assert.Equal(fromModel.Array<string>("tokenizer.ggml.tokens"), fromJson.Array<string>("tokenizer.ggml.tokens"));
        Assert.Equal(fromModel.Array<int>("tokenizer.ggml.token_type"), fromJson.Array<int>("tokenizer.ggml.token_type"));
        Assert.False(fromJson.Metadata.ContainsKey("tokenizer.chat_template"));
        // llama.cpp's SentencePiece tokenizer merges the best-scoring pair first: the merge order must survive as scores
        var scores = fromJson.Array<float>("tokenizer.ggml.scores");
        var merges = ((PeftSharp.Tokenization.HuggingFace.HfTokenizer)hf).Merges.Select(m => hf.TokenToId(m.Left + m.Right)!.Value).Distinct().ToList();
        Assert.True(merges.Zip(merges.Skip(1)).All(p => scores[p.First] > scores[p.Second]));
    }

    [Fact]
    public void Chat_template_is_read_from_tokenizer_config_when_it_is_a_string()
    {
        using var dir = Fixtures.NewTempDir();
        Assert.Null(GgufVocabulary.ChatTemplateOf(dir.Path));
        File.WriteAllText(dir.File("tokenizer_config.json"), """{"chat_template": "{% for m in messages %}{{ m.content }}{% endfor %}"}""");
        Assert.Equal("{% for m in messages %}{{ m.content }}{% endfor %}", GgufVocabulary.ChatTemplateOf(dir.Path));
        File.WriteAllText(dir.File("tokenizer_config.json"), """{"chat_template": [{"name": "default", "template": "x"}]}""");
        Assert.Null(GgufVocabulary.ChatTemplateOf(dir.Path));
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("llama3")]
    [InlineData("mistral")]
    public void Golden_hf_checkpoints_exported_to_gguf_reproduce_transformers_logits_with_llama_cpp_rope(string kind)
    {
        var dir = Fixtures.Golden("models", kind);
        using var lm = PretrainedCausalLM.Load(dir);
        using var tmp = Fixtures.NewTempDir();
        var path = tmp.File("g.gguf");
        GgufWriter.Write(path, LlamaGgufExport.Metadata(lm.Config, kind, GgufFileType.F32), LlamaGgufExport.Tensors(lm.Model, GgufFileType.F32));
        using var golden = SafeTensorsFile.Open(Path.Combine(dir, "golden_logits.safetensors"));
        var ids = golden.Load("input_ids")[0].data<long>().ToArray();
        int valid = (int)golden.Load("attention_mask")[0].sum().item<long>();
        var expected = golden.Load("logits")[0].narrow(0, 0, valid);
        var actual = GgufReferenceLlama.Logits(GgufFile.Read(path), ids.Take(valid).ToArray());
        var diff = (actual - expected).abs().max().item<float>();
        Assert.True(diff < 1e-4f, $"{kind}: GGUF forward vs transformers differs by {diff}");
    }
}
