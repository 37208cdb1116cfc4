using System.Text.Json.Nodes;
using PeftSharp.Generation;
using PeftSharp.IO.SafeTensors;
using PeftSharp.Models;
using PeftSharp.Models.Llama;
using PeftSharp.Peft;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Adapters;

/// <summary>Helpers shared by the prompt-tuning and prefix-tuning tests: golden bases and PEFT's golden outputs.</summary>
internal static class PromptLearningTestKit
{
    /// <summary>A golden tiny base (llama: MHA; qwen2: GQA kv=2 with q/k/v biases and tied embeddings).</summary>
    public static LlamaForCausalLM GoldenModel(string kind, ScalarType dtype = ScalarType.Float32)
    {
        var dir = Fixtures.Golden("models", kind);
        var model = new LlamaForCausalLM(LlamaConfig.FromFile(Path.Combine(dir, "config.json")), dtype);
        using var src = SafeTensorsCheckpoint.Open(dir);
        WeightLoader.Load(model, src, model.TiedKeys);
        return model;
    }

    public static string KindOf(string method) => method == "prefix_qwen2" ? "qwen2" : "llama";

    /// <summary>Max |ours - PEFT's| over the real (unpadded) positions; PEFT's logits keep their last T positions.</summary>
    public static float MaxDiffOnRealTokens(Tensor ours, Tensor peft, Tensor mask)
    {
        long t = ours.shape[1];
        var expected = peft.narrow(1, peft.shape[1] - t, t);
        var valid = mask.to(ScalarType.Bool).unsqueeze(-1).expand_as(expected);
        return (ours - expected).abs().masked_fill(valid.logical_not(), 0).max().item<float>();
    }

    /// <summary>Logits of the golden batch (with its attention mask), compared with PEFT's.</summary>
    public static float GoldenLogitsDiff(PeftModel peft, string folder, string key = "logits")
    {
        using var golden = SafeTensorsFile.Open(Path.Combine(folder, "golden_logits.safetensors"));
        var mask = golden.Load("attention_mask");
        using var _ = no_grad();
        var logits = ((LlamaForCausalLM)peft.Model).Forward(golden.Load("input_ids"), mask);
        var diff = MaxDiffOnRealTokens(logits, golden.Load(key), mask);
        TestContext.Current.TestOutputHelper?.WriteLine($"{Path.GetFileName(folder)} {key}: max |ours - PEFT| = {diff:E2}");
        return diff;
    }

    public static int[] GoldenGreedy(string folder)
    {
        using var golden = SafeTensorsFile.Open(Path.Combine(folder, "golden_logits.safetensors"));
        return golden.Load("greedy").data<long>().Select(i => (int)i).ToArray();
    }

    /// <summary>adapter_config.json as a JSON object.</summary>
    public static JsonObject ConfigJson(string folder) => JsonNode.Parse(File.ReadAllText(Path.Combine(folder, AdapterFolder.ConfigFile)))!.AsObject();

    /// <summary>The tensors of an adapter folder by key, with their shapes.</summary>
    public static Dictionary<string, long[]> SavedShapes(string folder)
    {
        using var f = SafeTensorsFile.Open(Path.Combine(folder, AdapterFolder.WeightsFile));
        return f.Keys.ToDictionary(k => k, k => f.GetInfo(k).Shape.ToArray());
    }

    /// <summary>The fields PEFT's golden config and ours must share, with equal values (PEFT's bookkeeping aside).</summary>
    public static void AssertConfigsMatch(JsonObject peft, JsonObject ours)
    {
        string[] bookkeeping = { "auto_mapping", "peft_version", "base_model_name_or_path" };
        var expected = peft.Where(kv => !bookkeeping.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value?.ToJsonString());
        var actual = ours.Where(kv => !bookkeeping.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value?.ToJsonString());
        Assert.Equal(expected.OrderBy(kv => kv.Key), actual.OrderBy(kv => kv.Key));
    }

    /// <summary>Greedy generation from PEFT's prompt gives PEFT's tokens, with and without the KV cache.</summary>
    public static void AssertGreedyMatchesPeft(PeftModel peft, string folder)
    {
        var expected = GoldenGreedy(folder);
        foreach (var cache in new[] { true, false })
        {
            var result = new TextGenerator((LlamaForCausalLM)peft.Model).Generate(expected.Take(7).ToArray(),
                new SamplingOptions { MaxNewTokens = expected.Length - 7, UseKvCache = cache });
            Assert.Equal(expected.Skip(7), result.NewIds);
        }
    }

    /// <summary>Saves the loaded PEFT folder again: same keys, shapes, values and config; the copy reloads to PEFT's logits.</summary>
    public static void AssertResaveMatchesPeft(string folder, string kind)
    {
        var peft = AdapterFolder.Load(GoldenModel(kind), folder);
        using var tmp = Fixtures.NewTempDir();
        var saved = Path.Combine(tmp.Path, "saved");
        AdapterFolder.Save(peft, saved, "tests/PeftSharp.Tests/Golden/models/" + kind);
        Assert.Equal(SavedShapes(folder), SavedShapes(saved));
        AssertConfigsMatch(ConfigJson(folder), ConfigJson(saved));
        using (var f = SafeTensorsFile.Open(Path.Combine(folder, AdapterFolder.WeightsFile)))
        using (var g = SafeTensorsFile.Open(Path.Combine(saved, AdapterFolder.WeightsFile)))
            Assert.True(f.Load("prompt_embeddings").allclose(g.Load("prompt_embeddings"), 0, 0));
        var reloaded = AdapterFolder.Load(GoldenModel(kind), saved);
        Assert.True(GoldenLogitsDiff(reloaded, folder) < 1e-4);
    }

    /// <summary>A right-padded batch with its mask gives each row's logits as run alone; returns row 0 and the batch logits.</summary>
    public static (long[] Row0, Tensor Batch) PaddedBatchMatchesRows(LlamaForCausalLM model)
    {
        long[] a = { 1, 5, 9, 23, 42, 7 }, b = { 1, 60, 2 };
        var ids = TinyModels.Ids(a, b.Concat(new long[] { 0, 0, 0 }).ToArray());
        var mask = TinyModels.Ids(new long[] { 1, 1, 1, 1, 1, 1 }, new long[] { 1, 1, 1, 0, 0, 0 });
        var batch = model.Forward(ids, mask);
        Assert.True(Peft.LoraTestKit.MaxDiff(batch[0], model.Forward(TinyModels.Ids(a))[0]) < 1e-5);
        Assert.True(Peft.LoraTestKit.MaxDiff(batch[1].narrow(0, 0, 3), model.Forward(TinyModels.Ids(b))[0]) < 1e-5);
        return (a, batch);
    }
}
