using PeftSharp.Adapters.Lora;
using PeftSharp.IO.Gguf;
using PeftSharp.Models.Llama;
using PeftSharp.Nn;

namespace PeftSharp.Peft;

/// <summary>What <see cref="LoraGgufExport.Write"/> wrote.</summary>
/// <param name="Modules">LoRA modules exported (each as a lora_a/lora_b pair).</param>
/// <param name="Alpha">The file's adapter.lora.alpha.</param>
/// <param name="Folded">Modules whose scale differs from alpha / r (rsLoRA, rank or alpha patterns) and was folded into lora_b.</param>
public sealed record LoraGgufSummary(int Modules, double Alpha, int Folded);

/// <summary>
/// Writes a LoRA adapter as llama.cpp's adapter GGUF (the form its convert_lora_to_gguf.py writes):
/// general.type=adapter, adapter.type=lora, adapter.lora.alpha, and per module "&lt;base tensor&gt;.lora_a"
/// [r, in] and ".lora_b" [out, r] in torch order. llama.cpp applies W·x + (alpha / r)·B·A·x with one alpha for the
/// file and r read from each lora_b, so a module whose own scale is not alpha / r (rsLoRA's alpha / √r, rank or alpha
/// patterns) has the ratio folded into its lora_b. q/k lora_b rows get the same permutation as the base q/k weights,
/// since permuting rows of W = B·A permutes the rows of B.
/// </summary>
public static class LoraGgufExport
{
    /// <summary>Writes adapter <paramref name="adapterName"/> of <paramref name="peft"/> (on a Llama-family model with config <paramref name="config"/>) to <paramref name="path"/>.</summary>
    /// <exception cref="ConfigurationException">The adapter is not plain LoRA on the decoder's Linears (DoRA, AdaLoRA, IA3,
    /// prompt methods, modules_to_save, embedding LoRA, a LoRA on a tied head), or it is merged.</exception>
    public static LoraGgufSummary Write(PeftModel peft, LlamaConfig config, string path, GgufFileType fileType, string name, string adapterName = "default")
    {
        if (!peft.Adapters.TryGetValue(adapterName, out var record))
            throw new ConfigurationException($"no adapter named '{adapterName}' (loaded: {string.Join(", ", peft.Adapters.Keys)})");
        if (record.Config is not LoraConfig lora)
            throw new ConfigurationException($"adapter '{adapterName}' is {record.Config.PeftType}: llama.cpp's adapter GGUF holds plain LoRA only; merge it instead (peftsharp export without --adapter-only)");
        if (lora.UseDora)
            throw new ConfigurationException("DoRA adapters have no llama.cpp adapter form (it rescales each weight column): export the merged model instead (drop --adapter-only)");
        if (record.Merged) throw new ConfigurationException($"adapter '{adapterName}' is merged into the weights: export it before merging");
        double alpha = lora.LoraAlpha;
        var tensors = new List<GgufTensor>();
        int folded = 0;
        foreach (var layer in record.Layers)
        {
            if (layer is not { Host: Linear, Adapter: LoraLinear l })
                throw new ConfigurationException(
                    $"'{layer.ModulePath}' carries a {layer.Adapter.GetType().Name}: llama.cpp's adapter GGUF holds LoRA on Linear layers only; export the merged model instead (drop --adapter-only)");
            var weightKey = layer.ModulePath + ".weight";
            if (weightKey == "lm_head.weight" && config.TieWordEmbeddings)
                throw new ConfigurationException("the adapter has a LoRA on lm_head, which this model ties to the embeddings (llama.cpp has no output tensor to apply it to): export the merged model instead");
            var baseName = LlamaGgufNames.TensorName(weightKey);
            var heads = LlamaGgufNames.PermuteHeads(config, weightKey);
            // llama.cpp scales by alpha / r (or by 1 when alpha is 0); fold what differs from the module's own scale.
            double fold = l.Scaling / (alpha != 0 ? alpha / l.Rank : 1.0);
            if (Math.Abs(fold - 1) > 1e-9) folded++;
            var a = l.A.weight;
            var b = l.B.weight;
            tensors.Add(GgufTensorEncoder.Lazy(baseName + ".lora_a", a.shape, GgufFileTypes.TensorType(fileType, baseName, a.shape), () => a.detach()));
            tensors.Add(GgufTensorEncoder.Lazy(baseName + ".lora_b", b.shape, GgufFileTypes.TensorType(fileType, baseName, b.shape), () =>
            {
                var rows = heads is int h ? LlamaGgufNames.HalvesToPairs(b.detach(), h) : b.detach();
                return Math.Abs(fold - 1) > 1e-9 ? rows.to(TorchSharp.torch.ScalarType.Float32) * fold : rows;
            }));
        }
        var md = new GgufMetadata()
            .String("general.architecture", LlamaGgufNames.Architecture(config))
            .String("general.type", "adapter")
            .String("general.name", name)
            .UInt32("general.file_type", (uint)fileType)
            .UInt32("general.quantization_version", 2)
            .String("adapter.type", "lora")
            .Float32("adapter.lora.alpha", (float)alpha);
        GgufWriter.Write(path, md, tensors);
        return new LoraGgufSummary(record.Layers.Count, alpha, folded);
    }
}
