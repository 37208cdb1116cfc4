using PeftSharp.Adapters;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Peft;

/// <summary>
/// The mapping between our parameter paths and the keys of PEFT's adapter_model.safetensors: PEFT prefixes
/// "base_model.model.", drops the adapter name, writes DoRA's magnitude and embedding LoRA without ".weight", and
/// stores modules_to_save copies under the original layer's key.
/// </summary>
public static class PeftKeys
{
    /// <summary>
    /// The prefix PEFT puts before every key of adapter_model.safetensors ("base_model.model."): its PeftModel wraps a
    /// LoraModel that wraps the original model.
    /// </summary>
    public const string Prefix = "base_model.model.";

    /// <summary>The PEFT key of an adapter parameter of <paramref name="adapter"/>, or null if the path is not one.</summary>
    public static string? ToPeft(string path, string adapter)
    {
        var parts = path.Split('.');
        for (int i = 0; i + 1 < parts.Length; i++)
        {
            if (!AdapterSlotNames.All.Contains(parts[i]) || parts[i + 1] != adapter) continue;
            var host = string.Join('.', parts[..i]);
            var rest = parts[(i + 2)..];
            return parts[i] switch
            {
                "modules_to_save" => Prefix + host + "." + string.Join('.', rest),
                "lora_magnitude_vector" => Prefix + host + ".lora_magnitude_vector",
                "lora_embedding_A" or "lora_embedding_B" => Prefix + host + "." + parts[i],
                // A bare parameter in its slot (AdaLoRA's lora_E, IA3's ia3_l) is saved without a suffix.
                _ => Prefix + host + "." + parts[i] + (rest.Length == 0 ? "" : "." + string.Join('.', rest)),
            };
        }
        return null;
    }

    /// <summary>PEFT key -> our parameter, for one adapter (plus trained base biases when the config saves them).</summary>
    public static Dictionary<string, Tensor> AdapterTensors(PeftModel peft, string adapter)
    {
        var record = peft.Adapters[adapter];
        var map = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (path, p) in peft.Model.named_parameters())
        {
            if (ToPeft(path, adapter) is { } key) map[key] = p;
        }
        if (record.Config.Bias != "none")
        {
            // PEFT wraps an adapted layer, so its bias is saved as "<layer>.base_layer.bias"; other biases keep their name.
            var hosts = record.Layers.Select(l => l.ModulePath).ToHashSet();
            foreach (var (path, p) in peft.Model.named_parameters())
            {
                if (!path.EndsWith(".bias", StringComparison.Ordinal) || PeftModel.IsAdapterPath(path)) continue;
                var host = path[..^5];
                bool wrapped = hosts.Contains(host);
                if (record.Config.Bias == "all" || wrapped) map[Prefix + (wrapped ? host + ".base_layer.bias" : path)] = p;
            }
        }
        return map;
    }
}
