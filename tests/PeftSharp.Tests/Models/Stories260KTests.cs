using PeftSharp.Generation;
using PeftSharp.IO.LlamaC;
using PeftSharp.Models;
using PeftSharp.Models.Llama;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Models;

public class Stories260KTests
{
    [Fact]
    public void Greedy_from_BOS_matches_transformers_on_the_converted_weights()
    {
        var path = Fixtures.Require("models/stories260K/stories260K.bin");
        using var ckpt = LlamaCCheckpoint.Open(path);
        var model = new LlamaForCausalLM(LlamaCImport.ConfigFrom(ckpt.Header));
        WeightLoader.Load(model, ckpt, model.TiedKeys);
        var result = new TextGenerator(model).Generate(new[] { 1 }, new SamplingOptions { MaxNewTokens = 60 });
        Console.WriteLine(string.Join(",", result.NewIds));
        int[] expectedStart = { 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317 };
        Assert.Equal(expectedStart, result.NewIds.Take(expectedStart.Length));
    }
}
