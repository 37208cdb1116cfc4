using PeftSharp.Generation;
using PeftSharp.IO.LlamaC;
using PeftSharp.IO.SafeTensors;
using PeftSharp.Models;
using PeftSharp.Models.Llama;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Models;

/// <summary>The real pretrained stories260K (llama2.c format) against transformers running the same weights.</summary>
public class Stories260KTests
{
    internal static LlamaForCausalLM LoadLlamaC(string path)
    {
        using var ckpt = LlamaCCheckpoint.Open(path);
        var model = new LlamaForCausalLM(LlamaCImport.ConfigFrom(ckpt.Header));
        WeightLoader.Load(model, ckpt, model.TiedKeys);
        return model;
    }

    [Fact]
    public void Imported_logits_and_greedy_tokens_match_transformers()
    {
        var model = LoadLlamaC(Fixtures.Require("models/stories260K/stories260K.bin"));
        using var golden = SafeTensorsFile.Open(Fixtures.Golden("stories260K/golden_hf.safetensors"));
        var expected = golden.Load("greedy").data<long>().Select(i => (int)i).ToArray();
        var result = new TextGenerator(model).Generate(new[] { 1 }, new SamplingOptions { MaxNewTokens = expected.Length - 1 });
        Assert.Equal(expected.Skip(1), result.NewIds);

        using var _ = no_grad();
        var logits = model.Forward(tensor(expected.Take(16).Select(i => (long)i).ToArray()).unsqueeze(0))[0];
        var diff = (logits - golden.Load("logits_first16")).abs().max().item<float>();
        Assert.True(diff < 1e-4, $"max |logits - transformers| = {diff}");
    }

    [Fact]
    public void Truncated_or_foreign_files_are_rejected_with_the_reason()
    {
        var path = Fixtures.Require("models/stories260K/stories260K.bin");
        using var tmp = Fixtures.NewTempDir();
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(tmp.File("short.bin"), bytes[..(bytes.Length - 100)]);
        var e = Assert.Throws<InvalidFileFormatException>(() => LlamaCCheckpoint.Open(tmp.File("short.bin")));
        Assert.Contains("implies", e.Message);
        File.WriteAllBytes(tmp.File("tiny.bin"), bytes[..10]);
        Assert.Contains("shorter than the 28-byte", Assert.Throws<InvalidFileFormatException>(() => LlamaCCheckpoint.Open(tmp.File("tiny.bin"))).Message);
        var bad = (byte[])bytes.Clone();
        BitConverter.GetBytes(-5).CopyTo(bad, 0);
        File.WriteAllBytes(tmp.File("neg.bin"), bad);
        Assert.Contains("dim = -5", Assert.Throws<InvalidFileFormatException>(() => LlamaCCheckpoint.Open(tmp.File("neg.bin"))).Message);
    }
}
