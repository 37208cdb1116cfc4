using PeftSharp.Tests.Support;
using PeftSharp.Tokenization;

namespace PeftSharp.Tests.Tokenization;

public sealed class TokenizerErrorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("peftsharp-tok-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private string WriteBytes(string name, byte[] bytes)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void Folder_without_a_tokenizer_lists_what_it_has_and_what_is_expected()
    {
        Write("config.json", "{}");
        var e = Assert.Throws<ConfigurationException>(() => TokenizerLoader.FromFolder(_dir));
        Assert.Contains("config.json", e.Message);
        Assert.Contains("tokenizer.json", e.Message);
        Assert.Contains("tokenizer.model", e.Message);
    }

    [Fact]
    public void Missing_file_names_the_path()
    {
        string path = Path.Combine(_dir, "tokenizer.json");
        var e = Assert.Throws<InvalidFileFormatException>(() => TokenizerLoader.FromFile(path));
        Assert.Equal(path, e.Path);
    }

    [Fact]
    public void Malformed_tokenizer_json_is_an_invalid_file()
    {
        string path = Write("tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": ");
        var e = Assert.Throws<InvalidFileFormatException>(() => TokenizerLoader.FromFile(path));
        Assert.Contains("not valid JSON", e.Message);
    }

    [Fact]
    public void Merge_with_a_token_outside_the_vocab_is_an_invalid_file()
    {
        string path = Write("tokenizer.json", """{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a c"]}}""");
        var e = Assert.Throws<InvalidFileFormatException>(() => TokenizerLoader.FromFile(path));
        Assert.Contains("merge 0", e.Message);
    }

    [Theory]
    [InlineData("""{"model": {"type": "WordPiece", "vocab": {}}}""", "WordPiece")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {}, "merges": []}, "pre_tokenizer": {"type": "BertPreTokenizer"}}""", "BertPreTokenizer")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {}, "merges": []}, "normalizer": {"type": "Precompiled"}}""", "Precompiled")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {}, "merges": []}, "decoder": {"type": "CTC"}}""", "CTC")]
    public void Unsupported_components_name_their_type(string json, string type)
    {
        string path = Write("tokenizer.json", json);
        var e = Assert.Throws<ConfigurationException>(() => TokenizerLoader.FromFile(path));
        Assert.Contains($"'{type}'", e.Message);
    }

    [Fact]
    public void Truncated_tokenizer_model_is_an_invalid_file()
    {
        var bytes = File.ReadAllBytes(Fixtures.Golden("tokenizers", "sp_bpe", "tokenizer.model"));
        string path = WriteBytes("tokenizer.model", bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<InvalidFileFormatException>(() => TokenizerLoader.FromFile(path));
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void Truncated_tokenizer_bin_is_an_invalid_file()
    {
        var bytes = File.ReadAllBytes(Fixtures.Require("models", "stories260K", "tok512.bin"));
        string path = WriteBytes("tokenizer.bin", bytes[..(bytes.Length - 3)]);
        var e = Assert.Throws<InvalidFileFormatException>(() => TokenizerLoader.FromFile(path));
        Assert.Contains("truncated", e.Message);
        // Cut at a record boundary: only the expected vocab size tells.
        string exact = WriteBytes("short.bin", bytes[..2000]);
        Assert.Throws<InvalidFileFormatException>(() => new PeftSharp.Tokenization.Llama2c.Llama2cTokenizer(exact, vocabSize: 512));
    }

    [Fact]
    public void Bad_tiktoken_line_names_the_line()
    {
        string path = Write("x.tiktoken", "IQ== 0\nnot base64!! 1\n");
        var e = Assert.Throws<InvalidFileFormatException>(() => TokenizerLoader.FromFile(path));
        Assert.Contains("line 2", e.Message);
    }

    [Fact]
    public void Special_tokens_are_read_from_the_folder_configs()
    {
        foreach (var f in new[] { "tokenizer.json", "tokenizer_config.json" })
            File.Copy(Fixtures.Golden("tokenizers", "bytelevel_qwen2", f), Path.Combine(_dir, f));
        Write("generation_config.json", """{"bos_token_id": 0, "eos_token_id": [2, 0]}""");
        var tok = TokenizerLoader.FromFolder(_dir);
        Assert.Equal(0, tok.EosId);        // tokenizer_config eos_token first
        Assert.Equal([0, 2], tok.EosIds);  // then every generation_config id
        Assert.Equal(0, tok.BosId);
        Assert.Equal(tok.Encode("Hi", false), tok.Encode("Hi")); // Qwen2's post-processor adds nothing
    }

    [Fact]
    public void Token_objects_and_add_eos_token_in_tokenizer_config_are_honoured()
    {
        File.Copy(Fixtures.Golden("tokenizers", "sp_bpe", "tokenizer.model"), Path.Combine(_dir, "tokenizer.model"));
        Write("tokenizer_config.json", """{"bos_token": {"content": "<s>"}, "eos_token": {"content": "</s>"}, "add_eos_token": true}""");
        var tok = TokenizerLoader.FromFolder(_dir);
        var ids = tok.Encode("Hello");
        Assert.Equal(1, ids[0]);
        Assert.Equal(2, ids[^1]);
    }
}
