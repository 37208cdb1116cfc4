using PeftSharp.Adapters.Lora;
using PeftSharp.IO.SafeTensors;
using PeftSharp.Models;
using PeftSharp.Peft;
using static TorchSharp.torch;

// Usage: dotnet run --project tools/interop -- <golden tiny llama folder> <out folder>
// For each LoRA variant: an adapter folder saved by us, a merged model folder, and our logits for the same input.
//        dotnet run --project tools/interop -- methods <golden folder> <out folder>
// The other methods (IA3, AdaLoRA, prompt/prefix tuning, SoRA exported as LoRA): see MethodExport.cs.
if (args[0] == "methods") return PeftSharp.Interop.MethodExport.Run(args[1], args[2]);
var (baseDir, outDir) = (args[0], args[1]);
Directory.CreateDirectory(outDir);
var variants = new Dictionary<string, LoraConfig>
{
    ["ours_lora_qv"] = new() { R = 4, LoraAlpha = 8, TargetModules = new[] { "q_proj", "v_proj" } },
    ["ours_dora_all"] = new() { R = 4, LoraAlpha = 16, TargetRegex = LoraConfig.AllLinear, UseDora = true },
    ["ours_rslora_embed_head"] = new() { R = 8, LoraAlpha = 4, UseRslora = true, TargetModules = new[] { "embed_tokens", "o_proj" }, ModulesToSave = new[] { "lm_head" } },
    ["ours_patterns"] = new() { R = 4, LoraAlpha = 8, TargetRegex = @"model\.layers\.1\..*(k_proj|up_proj)", RankPattern = new Dictionary<string, int> { ["k_proj"] = 2 }, AlphaPattern = new Dictionary<string, double> { ["up_proj"] = 3 } },
};
var ids = tensor(new long[] { 1, 17, 45, 99, 3, 64, 120 }).unsqueeze(0);
foreach (var (name, config) in variants)
{
    using var lm = PretrainedCausalLM.Load(baseDir, new ModelLoadOptions { MemoryMapped = false });
    var peft = PeftModel.Create(lm.Model, config, seed: 1);
    using (no_grad())
    using (var gen = new Generator().manual_seed(2))
        foreach (var (p, t) in lm.Model.named_parameters())
            if (p.Contains("lora_B") || p.Contains("lora_embedding_A") || p.Contains("lora_magnitude") || p.Contains("modules_to_save"))
                t.add_(randn(t.shape, generator: gen) * 0.1);
    var adapterDir = Path.Combine(outDir, name, "adapter");
    AdapterFolder.Save(peft, adapterDir, "base");
    Tensor adapted, merged;
    using (no_grad()) adapted = lm.Model.Forward(ids);
    peft.MergeAndUnload();
    using (no_grad()) merged = lm.Model.Forward(ids);
    ModelFolderWriter.Save(lm.Model, Path.Combine(outDir, name, "merged"));
    SafeTensorsWriter.Write(Path.Combine(outDir, name, "ours.safetensors"), new Dictionary<string, Tensor>
    {
        ["input_ids"] = ids, ["logits"] = adapted, ["merged_logits"] = merged,
    });
    Console.WriteLine($"wrote {name}");
}
return 0;
