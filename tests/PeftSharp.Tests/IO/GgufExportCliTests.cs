using PeftSharp.Tests.Cli;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.IO;

/// <summary>`peftsharp export --format gguf` end to end, and its refusals.</summary>
public class GgufExportCliTests
{
    static string Model => Fixtures.Require("models", "stories260K");

    [Fact]
    public void Export_with_an_adapter_equals_merge_then_export()
    {
        using var tmp = Fixtures.NewTempDir();
        var adapter = CliAdapterTests.SaveRandomAdapter(tmp, Model);
        var direct = tmp.File("direct.gguf");
        var r = CliRunner.Run("export", "--format", "gguf", "-m", Model, "-a", adapter, "--out", direct, "--outtype", "q8_0");
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.Contains("merged", r.Out);

        var merged = Path.Combine(tmp.Path, "merged");
        Assert.Equal(0, CliRunner.Run("merge", "-m", Model, "-a", adapter, "--out", merged).ExitCode);
        var viaFolder = tmp.File("via-folder.gguf");
        r = CliRunner.Run("export", "--format", "gguf", "-m", merged, "--out", viaFolder, "--outtype", "q8_0");
        Assert.True(r.ExitCode == 0, r.Err);

        var (a, b) = (GgufFile.Read(direct), GgufFile.Read(viaFolder));
        Assert.Equal(a.TensorOrder, b.TensorOrder);
        foreach (var name in a.TensorOrder) Assert.Equal(a.Tensors[name].Bytes, b.Tensors[name].Bytes);
        // the merged folder's tokenizer is the tokenizer.json written from tok512.bin: same pieces and types
        // (that tokenizer.json keeps llama2.c's "\n<s>\n" spelling of BOS/EOS, which llama.cpp never matches in text)
        Assert.Equal(a.Array<string>("tokenizer.ggml.tokens"), b.Array<string>("tokenizer.ggml.tokens").Select(t => t.Trim('\n')));
        Assert.Equal(a.Array<int>("tokenizer.ggml.token_type"), b.Array<int>("tokenizer.ggml.token_type"));
        Assert.Equal(a["tokenizer.ggml.bos_token_id"], b["tokenizer.ggml.bos_token_id"]);

        var plain = tmp.File("plain.gguf");
        Assert.Equal(0, CliRunner.Run("export", "--format", "gguf", "-m", Model, "--out", plain, "--outtype", "q8_0").ExitCode);
        Assert.NotEqual(GgufFile.Read(plain).Tensors["blk.0.attn_q.weight"].Bytes, a.Tensors["blk.0.attn_q.weight"].Bytes);
    }

    [Fact]
    public void Adapter_only_writes_the_llama_cpp_adapter_form()
    {
        using var tmp = Fixtures.NewTempDir();
        var adapter = CliAdapterTests.SaveRandomAdapter(tmp, Model);
        var path = tmp.File("lora.gguf");
        var r = CliRunner.Run("export", "--format", "gguf", "-m", Model, "-a", adapter, "--adapter-only", "--out", path, "--outtype", "f32");
        Assert.True(r.ExitCode == 0, r.Err);
        var f = GgufFile.Read(path);
        Assert.Equal("adapter", f["general.type"]);
        Assert.Equal("lora", f["adapter.type"]);
        Assert.Equal(16f, f["adapter.lora.alpha"]);
        Assert.Equal(5 * 7 * 2, f.Tensors.Count);
        Assert.Contains("blk.4.ffn_gate.weight.lora_b", f.Tensors.Keys);
    }

    [Fact]
    public void Refusals_name_the_problem_and_the_fix()
    {
        using var tmp = Fixtures.NewTempDir();
        CliRunner.Result Export(params string[] extra) => CliRunner.Run(["export", "--format", "gguf", .. extra]);

        var inside = Export("-m", Model, "--out", Path.Combine(Model, "x.gguf"));
        Assert.Equal(1, inside.ExitCode);
        Assert.Contains("inside the model folder", inside.Err);
        Assert.False(File.Exists(Path.Combine(Model, "x.gguf")));

        var quantized = Export("-m", Model, "--out", tmp.File("q.gguf"), "--load-in-4bit");
        Assert.Equal(1, quantized.ExitCode);
        Assert.Contains("dense", quantized.Err);
        Assert.Contains("--load-in-4bit", quantized.Err);

        string ModelFolder(string name, string modelType, string architecture)
        {
            var folder = Path.Combine(tmp.Path, name);
            Directory.CreateDirectory(folder);
            File.WriteAllText(Path.Combine(folder, "config.json"), $$"""{"model_type": "{{modelType}}", "architectures": ["{{architecture}}"]}""");
            File.WriteAllText(Path.Combine(folder, "model.safetensors"), "");
            return folder;
        }
        var w = Export("-m", ModelFolder("whisper", "whisper", "WhisperForConditionalGeneration"), "--out", tmp.File("w.gguf"));
        Assert.Equal(1, w.ExitCode);
        Assert.Contains("model_type 'whisper' cannot be exported to GGUF", w.Err);

        var c = Export("-m", ModelFolder("cls", "llama", "LlamaForSequenceClassification"), "--out", tmp.File("c.gguf"));
        Assert.Equal(1, c.ExitCode);
        Assert.Contains("LlamaForSequenceClassification", c.Err);

        var noAdapter = Export("-m", Model, "--out", tmp.File("a.gguf"), "--adapter-only");
        Assert.Equal(1, noAdapter.ExitCode);
        Assert.Contains("--adapter-only needs --adapter", noAdapter.Err);

        var badType = Export("-m", Model, "--out", tmp.File("b.gguf"), "--outtype", "q4_0");
        Assert.Equal(1, badType.ExitCode);
        Assert.Contains("f32, f16, bf16, q8_0", badType.Err);

        var format = CliRunner.Run("export", "--format", "onnx", "-m", Model, "--out", tmp.File("o.onnx"));
        Assert.Equal(1, format.ExitCode);
        Assert.Contains("--format gguf", format.Err);
        Assert.Empty(Directory.GetFiles(tmp.Path));
    }
}
