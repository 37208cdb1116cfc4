using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Cli;

public class CliTests
{
    const string KnownStart = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";

    [Fact]
    public void Generate_on_stories260K_reproduces_the_known_greedy_text()
    {
        var model = Fixtures.Require("models", "stories260K", "stories260K.bin");
        var r = CliRunner.Run("generate", "--model", model, "--max-new-tokens", "40");
        Assert.True(r.ExitCode == 0, r.Err);
        Assert.StartsWith(KnownStart, r.Out);
    }

    [Fact]
    public void Convert_to_an_HF_folder_then_generate_gives_the_same_text()
    {
        var folder = Fixtures.Require("models", "stories260K");
        using var tmp = Fixtures.NewTempDir();
        var outDir = Path.Combine(tmp.Path, "stories-hf");
        var c = CliRunner.Run("convert", "--model", folder, "--out", outDir);
        Assert.True(c.ExitCode == 0, c.Err);
        foreach (var f in new[] { "config.json", "generation_config.json", "model.safetensors", "tokenizer.bin", "tokenizer.json", "tokenizer_config.json" })
            Assert.True(File.Exists(Path.Combine(outDir, f)), f);
        var original = CliRunner.Run("generate", "-m", folder, "-n", "50");
        var converted = CliRunner.Run("generate", "-m", outDir, "-n", "50");
        Assert.Equal(0, converted.ExitCode);
        Assert.StartsWith(KnownStart, converted.Out);
        Assert.Equal(original.Out, converted.Out);

        // Converting again into the same folder refuses rather than overwrite.
        var again = CliRunner.Run("convert", "--model", folder, "--out", outDir);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("already exists", again.Err);
    }

    [Fact]
    public void Generate_continues_a_prompt_and_sampling_is_seeded()
    {
        var model = Fixtures.Require("models", "stories260K", "stories260K.bin");
        var a = CliRunner.Run("generate", "-m", model, "-p", "Tom had a red ball", "-n", "30", "--temperature", "0.9", "--top-p", "0.9", "--seed", "3");
        var b = CliRunner.Run("generate", "-m", model, "-p", "Tom had a red ball", "-n", "30", "--temperature", "0.9", "--top-p", "0.9", "--seed", "3");
        Assert.Equal(0, a.ExitCode);
        Assert.StartsWith("Tom had a red ball", a.Out);
        Assert.True(a.Out.Length > "Tom had a red ball".Length + 20);
        Assert.Equal(a.Out, b.Out);
    }

    [Fact]
    public void Inspect_prints_architecture_counts_and_tokenizer()
    {
        var model = Fixtures.Require("models", "stories260K", "stories260K.bin");
        var r = CliRunner.Run("inspect", "--model", model);
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("5 layers, hidden 64, intermediate 172", r.Out);
        Assert.Contains("8 heads, 4 key/value heads (GQA)", r.Out);
        Assert.Contains("parameters   260,032", r.Out);
        Assert.Contains("BOS 1, EOS 2", r.Out);
    }

    [Theory]
    // A repo id missing from the cache is downloaded: its failures are tested against a local hub in IO/HubCliTests.
    [InlineData("/no/such/folder/model.safetensors", "not found")]
    public void Missing_models_fail_with_a_message_that_says_what_to_do(string model, string expected)
    {
        var r = CliRunner.Run("generate", "--model", model);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(expected, r.Err);
        Assert.StartsWith("error: ", r.Err);
    }

    [Fact]
    public void Bad_sampling_options_are_rejected()
    {
        var model = Fixtures.Require("models", "stories260K", "stories260K.bin");
        var r = CliRunner.Run("generate", "-m", model, "--top-p", "1.5");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("top_p", r.Err);
        var d = CliRunner.Run("generate", "-m", model, "--dtype", "float16");
        Assert.Equal(1, d.ExitCode);
        Assert.Contains("bfloat16", d.Err);
    }
}

public class CliQuantizationTests
{
    [Fact]
    public void Generate_and_inspect_with_a_4bit_base()
    {
        var model = Fixtures.Require("models", "stories260K");
        var g = CliRunner.Run("generate", "-m", model, "-n", "20", "--load-in-4bit", "--bnb-4bit-quant-type", "nf4", "--bnb-4bit-use-double-quant");
        Assert.True(g.ExitCode == 0, g.Err);
        Assert.StartsWith("Once upon a time", g.Out);
        var i = CliRunner.Run("inspect", "-m", model, "--load-in-4bit", "--bnb-4bit-quant-type", "nf4");
        Assert.True(i.ExitCode == 0, i.Err);
        Assert.Contains("Float32: 33,472, nf4: 226,560", i.Out);   // the 35 Linear weights (61,440 + 165,120); embeddings and norms stay fp32
        Assert.Contains("parameters   260,032", i.Out);
    }

    [Theory]
    [InlineData("--bnb-4bit-quant-type", "int3", "nf4 or fp4")]
    [InlineData("--bnb-4bit-compute-dtype", "float16", "float32 or bfloat16")]
    public void Bad_quantization_options_name_the_field(string option, string value, string expected)
    {
        var model = Fixtures.Require("models", "stories260K");
        var r = CliRunner.Run("generate", "-m", model, "--load-in-4bit", option, value);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(expected, r.Err);
    }

    [Fact]
    public void Four_and_eight_bit_together_are_refused()
    {
        var model = Fixtures.Require("models", "stories260K");
        var r = CliRunner.Run("generate", "-m", model, "--load-in-4bit", "--load-in-8bit");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("exclusive", r.Err);
    }
}
