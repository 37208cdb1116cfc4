using PeftSharp.Adapters;
using PeftSharp.Adapters.Lora;
using PeftSharp.IO.SafeTensors;
using PeftSharp.Models;
using PeftSharp.Models.Llama;
using PeftSharp.Peft;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Models;

/// <summary>The classification head against transformers' LlamaForSequenceClassification, and LoRA + a trained head on it.</summary>
public class SequenceClassificationTests
{
    static LlamaForSequenceClassification Golden()
    {
        var dir = Fixtures.Golden("models", "llama_cls");
        var json = JsonReading.FromFile(Path.Combine(dir, "config.json"));
        var model = new LlamaForSequenceClassification(LlamaConfig.FromJson(json), LlamaForSequenceClassification.LabelsFromConfig(json));
        using var src = SafeTensorsCheckpoint.Open(dir);
        WeightLoader.Load(model, src);
        return model;
    }

    [Fact]
    public void HF_checkpoint_loads_with_its_labels_and_gives_transformers_pooled_logits()
    {
        var model = Golden();
        Assert.Equal(new[] { "negative", "neutral", "positive" }, model.Labels);
        using var golden = SafeTensorsFile.Open(Path.Combine(Fixtures.Golden("models", "llama_cls"), "golden_logits.safetensors"));
        using var _ = no_grad();
        var logits = model.Forward(golden.Load("input_ids"), golden.Load("attention_mask"));
        Assert.Equal(new long[] { 2, 3 }, logits.shape);
        var diff = (logits - golden.Load("logits")).abs().max().item<float>();
        Assert.True(diff < 1e-4, $"pooled logits differ from transformers' by {diff}");
    }

    [Fact]
    public void Pooling_takes_the_rightmost_non_pad_token_and_needs_a_pad_id_for_batches()
    {
        using var ids = tensor(new long[] { 5, 6, 0, 0, 7, 0, 8, 9 }, new long[] { 2, 4 });
        Assert.Equal(new long[] { 1, 3 }, LlamaForSequenceClassification.LastTokenIndex(ids, 0).data<long>().ToArray());
        var e = Assert.Throws<ConfigurationException>(() => LlamaForSequenceClassification.LastTokenIndex(ids, null));
        Assert.Contains("pad_token_id", e.Message);
        using var one = tensor(new long[] { 5, 6, 7 }).unsqueeze(0);
        Assert.Equal(2, LlamaForSequenceClassification.LastTokenIndex(one, null).item<long>());
    }

    [Fact]
    public void LoRA_on_the_body_with_the_head_in_modules_to_save_starts_as_the_base_and_trains_both()
    {
        var model = Golden();
        using var golden = SafeTensorsFile.Open(Path.Combine(Fixtures.Golden("models", "llama_cls"), "golden_logits.safetensors"));
        var ids = golden.Load("input_ids");
        var mask = golden.Load("attention_mask");
        Tensor before;
        using (no_grad()) before = model.Forward(ids, mask);
        var peft = PeftModel.Create(model, new LoraConfig { R = 4, LoraAlpha = 8, TargetModules = new[] { "q_proj", "v_proj" }, ModulesToSave = new[] { "score" }, TaskType = "SEQ_CLS" }, seed: 1);
        using (no_grad()) Assert.Equal(0, (model.Forward(ids, mask) - before).abs().max().item<float>());
        var loss = nn.functional.cross_entropy(model.Forward(ids, mask), tensor(new long[] { 2, 0 }));
        loss.backward();
        var trained = model.named_parameters().Where(p => p.parameter.requires_grad).ToList();
        Assert.Contains(trained, p => p.name.StartsWith("score.modules_to_save.default", StringComparison.Ordinal) && p.parameter.grad!.abs().sum().item<float>() > 0);
        Assert.Contains(trained, p => p.name.Contains("lora_A", StringComparison.Ordinal) && p.parameter.grad is not null);
        Assert.DoesNotContain(trained, p => !PeftModel.IsAdapterPath(p.name));

        using var dir = Fixtures.NewTempDir();
        AdapterFolder.Save(peft, dir.Path);
        Assert.Equal("SEQ_CLS", ((System.Text.Json.Nodes.JsonObject)System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(dir.Path, AdapterFolder.ConfigFile)))!)["task_type"]!.GetValue<string>());
    }
}
