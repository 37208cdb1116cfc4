using System.Text.Json;
using System.Text.Json.Nodes;
using PeftSharp.IO.SafeTensors;
using PeftSharp.Models.Llama;
using PeftSharp.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Models;

/// <summary>
/// Writes a model as a Hugging Face folder (config.json, generation_config.json, safetensors shards, tokenizer
/// files). Everything is written into a temporary sibling folder that is renamed into place at the end, so an
/// interrupted save never leaves a half-written model behind.
/// </summary>
public static class ModelFolderWriter
{
    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>
    /// Saves a causal LM as a Hugging Face model folder that transformers' from_pretrained loads: config.json with
    /// torch_dtype set to the model's dtype, a generation_config.json with its BOS/EOS ids, and the weights (quantized
    /// layers in bitsandbytes' layout, the tied head left out) as model.safetensors or sharded files with an index.
    /// </summary>
    /// <param name="model">The model to save (merge adapters into it first to save a fine-tuned model).</param>
    /// <param name="outDir">The folder to create; written atomically (temporary sibling, then renamed).</param>
    /// <param name="maxShardBytes">Largest safetensors file before the weights are split into shards; default 5 GiB, as
    /// transformers' max_shard_size "5GB".</param>
    /// <param name="overwrite">Replace an existing non-empty folder; default false.</param>
    /// <exception cref="PeftSharpException"><paramref name="outDir"/> exists and is not empty while <paramref
    /// name="overwrite"/> is false.</exception>
    /// <param name="extraFiles">Files copied into the folder (name in the folder -> source path), e.g. the tokenizer's.</param>
    public static void Save(LlamaForCausalLM model, string outDir, IReadOnlyDictionary<string, string>? extraFiles = null,
        long maxShardBytes = 5L << 30, bool overwrite = false)
    {
        var config = model.Config with { TorchDtype = DTypeName(model.DType) };
        var gen = new JsonObject();
        if (config.BosTokenId is { } b) gen["bos_token_id"] = b;
        if (config.EosTokenIds.Count == 1) gen["eos_token_id"] = config.EosTokenIds[0];
        else if (config.EosTokenIds.Count > 1) gen["eos_token_id"] = new JsonArray(config.EosTokenIds.Select(e => (JsonNode)e).ToArray());
        Save(model, model.TiedKeys, config.ToJson(), gen, outDir, extraFiles, maxShardBytes, overwrite);
    }

    /// <summary>
    /// Any model as a Hugging Face folder: its config.json (and generation_config.json when given), its state_dict
    /// less the tied keys as safetensors shards, and the extra files.
    /// </summary>
    public static void Save(nn.Module model, IReadOnlySet<string> tiedKeys, JsonObject config, JsonObject? generationConfig, string outDir,
        IReadOnlyDictionary<string, string>? extraFiles = null, long maxShardBytes = 5L << 30, bool overwrite = false)
    {
        var full = Path.GetFullPath(outDir);
        if (Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any() && !overwrite)
            throw new PeftSharpException($"{full} already exists and is not empty: choose a new output folder or remove it first");
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var tmp = IO.AtomicFolder.CreateTemp(full);
        try
        {
            IO.AtomicFile.WriteAllText(Path.Combine(tmp, "config.json"), config.ToJsonString(Indented));
            if (generationConfig is not null) IO.AtomicFile.WriteAllText(Path.Combine(tmp, "generation_config.json"), generationConfig.ToJsonString(Indented));
            var tensors = CheckpointTensors(model, tiedKeys).OrderBy(kv => kv.Key, StringComparer.Ordinal);
            ShardedSafeTensorsWriter.Write(tmp, tensors, maxShardBytes, new Dictionary<string, string> { ["format"] = "pt" });
            // Read + write rather than File.Copy: a copy would inherit read-only modes of the source.
            foreach (var (name, source) in extraFiles ?? new Dictionary<string, string>())
                IO.AtomicFile.WriteAllBytes(Path.Combine(tmp, name), File.ReadAllBytes(source));
            IO.AtomicFolder.Commit(tmp, full);
        }
        catch
        {
            IO.AtomicFolder.DeleteQuietly(tmp);
            throw;
        }
    }

    /// <summary>
    /// The tensors a checkpoint of <paramref name="model"/> holds: its state_dict without the tied lm_head, quantized
    /// Linears in bitsandbytes' layout. The tensors are the model's own (not copies); do not dispose them.
    /// </summary>
    public static IEnumerable<KeyValuePair<string, Tensor>> CheckpointTensors(LlamaForCausalLM model) => CheckpointTensors(model, model.TiedKeys);

    /// <summary>
    /// The tensors a checkpoint of <paramref name="model"/> holds: its state_dict without the tied keys, with each
    /// quantized Linear written in bitsandbytes' layout (packed weight, absmax, quant_map, quant_state...).
    /// </summary>
    public static IEnumerable<KeyValuePair<string, Tensor>> CheckpointTensors(nn.Module model, IReadOnlySet<string> tied)
    {
        var quantized = model.named_modules().Where(m => m.module is Linear { Quantized: not null })
            .ToDictionary(m => m.name + ".weight", m => (m.name, ((Linear)m.module).Quantized!));
        foreach (var (key, t) in model.state_dict())
        {
            if (tied.Contains(key)) continue;
            if (quantized.TryGetValue(key, out var q))
            {
                foreach (var (k, v) in q.Item2.CheckpointTensors()) yield return KeyValuePair.Create(q.Item1 + "." + k, v);
            }
            else yield return KeyValuePair.Create(key, t);
        }
    }

    /// <summary>
    /// The config.json torch_dtype name of a dtype: "bfloat16", "float16", or "float32" for anything else.
    /// </summary>
    public static string DTypeName(ScalarType t) => t switch
    {
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float16 => "float16",
        _ => "float32",
    };
}
