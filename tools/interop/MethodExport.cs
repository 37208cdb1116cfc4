using System.Text.Json;
using PeftSharp.Adapters;
using PeftSharp.IO.SafeTensors;
using PeftSharp.Models;
using PeftSharp.Models.Llama;
using PeftSharp.Peft;
using static TorchSharp.torch;

namespace PeftSharp.Interop;

/// <summary>
/// `dotnet run --project tools/interop -- methods &lt;golden dir&gt; &lt;out&gt;`: one adapter folder per method beyond LoRA, written
/// by PeftSharp on the golden tiny Llama with random (non-trivial) adapter weights, plus the logits PeftSharp computes
/// from the saved folder. check_methods_with_python.py then loads each folder into Python PEFT and compares.
/// </summary>
public static class MethodExport
{
    /// <summary>Each case: folder name and adapter_config.json as a user would write it.</summary>
    static readonly (string Name, string Json)[] Cases =
    {
        ("lora", """{"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj", "down_proj"]}"""),
        ("ia3", """{"peft_type": "IA3", "target_modules": ["k_proj", "v_proj", "down_proj"], "feedforward_modules": ["down_proj"]}"""),
        ("adalora", """{"peft_type": "ADALORA", "init_r": 4, "target_r": 2, "total_step": 10, "tinit": 2, "tfinal": 2, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"], "rank_pattern": {"model.layers.0.self_attn.q_proj.lora_E": [true, false, true, false], "model.layers.1.self_attn.v_proj.lora_E": [false, false, false, false]}}"""),
        ("prompt", """{"peft_type": "PROMPT_TUNING", "num_virtual_tokens": 5, "token_dim": 32, "num_layers": 2, "num_attention_heads": 4, "num_transformer_submodules": 1}"""),
        ("prefix", """{"peft_type": "PREFIX_TUNING", "num_virtual_tokens": 4, "token_dim": 32, "num_layers": 2, "num_attention_heads": 4, "num_transformer_submodules": 1, "encoder_hidden_size": 16, "prefix_projection": true}"""),
        ("sora", """{"peft_type": "SORA", "r": 6, "lora_alpha": 12, "target_modules": ["q_proj", "v_proj", "up_proj"]}"""),
    };

    public static int Run(string golden, string outDir)
    {
        var modelDir = Path.Combine(golden, "models", "llama");
        using var ids = tensor(new long[] { 1, 17, 45, 99, 3, 64, 120, 1, 88, 5, 41, 0, 0, 0 }, new long[] { 2, 7 });
        using var mask = tensor(new long[] { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0 }, new long[] { 2, 7 });
        foreach (var (name, json) in Cases)
        {
            var model = LoadBase(modelDir);
            using var doc = JsonDocument.Parse(json);
            if (!AdapterConfigReader.PeftTypes.Contains(doc.RootElement.GetProperty("peft_type").GetString()!))
            {
                Console.WriteLine($"{name}: skipped, this build does not have the method");
                continue;
            }
            var config = AdapterConfigReader.FromJson(new JsonReading(doc.RootElement, name), new List<string>()) with { BaseModelNameOrPath = "models/llama" };
            var peft = PeftModel.Create(model, config, seed: 3);
            Perturb(peft);
            var dir = Path.Combine(outDir, name);
            AdapterFolder.Save(peft, dir);
            peft.SetTraining(false);
            using var _ = no_grad();
            // What PeftSharp computes from the folder it wrote (a pruned SoRA or sliced AdaLoRA is a different object).
            var reloaded = LoadBase(modelDir);
            AdapterFolder.Load(reloaded, dir);
            var logits = reloaded.Forward(ids, mask);
            var live = model.Forward(ids, mask);
            double drift = (logits - live).abs().max().item<float>();
            SafeTensorsWriter.Write(Path.Combine(dir, "peftsharp_logits.safetensors"),
                new Dictionary<string, Tensor> { ["input_ids"] = ids, ["attention_mask"] = mask, ["logits"] = logits.contiguous() });
            Console.WriteLine($"{name}: wrote {dir} (saved vs live adapter: max |diff| {drift:E1})");
        }
        return 0;
    }

    static LlamaForCausalLM LoadBase(string modelDir)
    {
        var model = new LlamaForCausalLM(LlamaConfig.FromFile(Path.Combine(modelDir, "config.json")));
        using var src = SafeTensorsCheckpoint.Open(modelDir);
        WeightLoader.Load(model, src, model.TiedKeys);
        return model;
    }

    /// <summary>Random adapter weights (outputs then differ from the base); every other SoRA gate zeroed so pruning shows.</summary>
    static void Perturb(PeftModel peft)
    {
        using var gen = new Generator().manual_seed(5);
        using var _ = no_grad();
        foreach (var (path, p) in peft.Model.named_parameters())
        {
            if (!PeftModel.IsAdapterPath(path)) continue;
            p.add_(randn(p.shape, p.dtype, generator: gen) * 0.3);
            if (path.Contains("sora_gate", StringComparison.Ordinal)) p.view(-1).index_fill_(0, arange(0, p.numel(), 2), 0);
        }
    }
}
