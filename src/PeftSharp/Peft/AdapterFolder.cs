using System.Text.Json;
using PeftSharp.Adapters;
using PeftSharp.IO;
using PeftSharp.IO.SafeTensors;
using static TorchSharp.torch;

namespace PeftSharp.Peft;

/// <summary>
/// PEFT adapter folders: adapter_config.json + adapter_model.safetensors. The adapter named "default" is written at
/// the folder's root and any other adapter in a sub-folder named after it, as PEFT's save_pretrained does.
/// </summary>
public static class AdapterFolder
{
    /// <summary>File name of the adapter's config inside an adapter folder, as PEFT's CONFIG_NAME.</summary>
    public const string ConfigFile = "adapter_config.json";
    /// <summary>
    /// File name of the adapter's weights inside an adapter folder, as PEFT's SAFETENSORS_WEIGHTS_NAME.
    /// </summary>
    public const string WeightsFile = "adapter_model.safetensors";

    /// <summary>Writes the named adapters (default: all) into <paramref name="folder"/>.</summary>
    public static void Save(PeftModel peft, string folder, string? baseModelNameOrPath = null, params string[] adapterNames) =>
        Save(peft, folder, baseModelNameOrPath, forResume: false, adapterNames);

    /// <summary>
    /// As <see cref="Save(PeftModel, string, string?, string[])"/>; with <paramref name="forResume"/> (trainer checkpoints)
    /// methods whose saved form drops training-only tensors (prefix tuning's projection) keep them too.
    /// </summary>
    public static void Save(PeftModel peft, string folder, string? baseModelNameOrPath, bool forResume, params string[] adapterNames)
    {
        var names = adapterNames.Length > 0 ? adapterNames : peft.Adapters.Keys.ToArray();
        foreach (var name in names)
        {
            if (!peft.Adapters.TryGetValue(name, out var record))
                throw new ConfigurationException($"no adapter named '{name}' to save (adapters: {string.Join(", ", peft.Adapters.Keys)})");
            var dir = name == "default" ? folder : Path.Combine(folder, name);
            Directory.CreateDirectory(dir);
            var config = record.Config.ForSave(record, forResume) with { BaseModelNameOrPath = baseModelNameOrPath ?? record.Config.BaseModelNameOrPath, InferenceMode = true };
            using var scope = NewDisposeScope();
            var tensors = record.Config.SavedTensors(record, PeftKeys.AdapterTensors(peft, name), forResume)
                .OrderBy(kv => kv.Key, StringComparer.Ordinal)
                .Select(kv => KeyValuePair.Create(kv.Key, kv.Value.detach())).ToList();
            SafeTensorsWriter.Write(Path.Combine(dir, WeightsFile), tensors, new Dictionary<string, string> { ["format"] = "pt" });
            AtomicFile.WriteAllBytes(Path.Combine(dir, ConfigFile),
                JsonSerializer.SerializeToUtf8Bytes(config.ToJson(), new JsonSerializerOptions { WriteIndented = true }));
        }
    }

    /// <summary>
    /// The folder's adapter_config.json: <see cref="InvalidFileFormatException"/> when it is malformed or a value has
    /// the wrong type, <see cref="ConfigurationException"/> when a value is out of range, <see cref="PeftSharpException"/>
    /// when it is missing.
    /// </summary>
    public static AdapterConfig ReadConfig(string folder)
    {
        var path = Path.Combine(folder, ConfigFile);
        if (!File.Exists(path))
        {
            var hint = Directory.Exists(folder)
                ? $"the folder holds: {string.Join(", ", Directory.EnumerateFileSystemEntries(folder).Select(Path.GetFileName).Take(10))}"
                : "the folder does not exist";
            throw new PeftSharpException($"{path} not found: an adapter folder needs adapter_config.json and adapter_model.safetensors ({hint})");
        }
        var ignored = new List<string>();
        var config = AdapterConfigReader.FromJson(JsonReading.FromFile(path), ignored);
        if (ignored.Count > 0) Diagnostics.Warn($"{path}: ignoring keys this version does not use: {string.Join(", ", ignored)}");
        return config;
    }

    /// <summary>Injects the adapter saved in <paramref name="folder"/> into <paramref name="peft"/> under <paramref name="name"/> and loads its weights.</summary>
    public static AdapterRecord LoadInto(PeftModel peft, string folder, string name = "default")
    {
        var config = ReadConfig(folder);
        var record = peft.AddAdapter(name, config);
        try
        {
            LoadWeights(peft, name, folder);
        }
        catch
        {
            peft.DeleteAdapter(name);
            throw;
        }
        return record;
    }

    /// <summary>Wraps a plain model: freezes it and loads the adapter in <paramref name="folder"/> as the active "default".</summary>
    public static PeftModel Load(TorchSharp.torch.nn.Module model, string folder, string name = "default")
    {
        var config = ReadConfig(folder);
        var trainable = model.parameters().Select(p => (p, p.requires_grad)).ToList();
        var peft = PeftModel.Create(model, config, name);
        try
        {
            LoadWeights(peft, name, folder);
        }
        catch
        {
            // Leave the caller's model as it was (no half-injected adapter, base not frozen), as LoadInto does.
            peft.DeleteAdapter(name);
            foreach (var (p, rg) in trainable) p.requires_grad = rg;
            throw;
        }
        return peft;
    }

    /// <summary>Loads the weights saved in <paramref name="folder"/> into the existing adapter <paramref name="name"/>.</summary>
    public static void LoadWeights(PeftModel peft, string name, string folder)
    {
        var path = Path.Combine(folder, WeightsFile);
        if (!File.Exists(path))
        {
            // PEFT before 0.6 saved adapter_model.bin, a pickle: refused by name, never opened.
            if (PickleCheckpoints.In(folder) is [var pickle, ..]) throw PickleCheckpoints.Refusal(Path.Combine(folder, pickle), WeightsFile);
            throw new PeftSharpException($"{path} not found: the adapter folder has a config but no weights");
        }
        using var file = SafeTensorsFile.Open(path);
        var record = peft.Adapters[name];
        var expected = record.Config.LoadTargets(record, PeftKeys.AdapterTensors(peft, name), file.Keys.ToList());
        var trainedOn = record.Config.BaseModelNameOrPath is { } b ? $" ('{b}')" : "";
        // Shapes first: an adapter of another base usually also lacks layers, but the shapes say why.
        var mismatched = expected.Where(kv => file.Contains(kv.Key) && !file.GetInfo(kv.Key).Shape.SequenceEqual(kv.Value.shape))
            .Select(kv => $"'{kv.Key}' is [{string.Join(", ", file.GetInfo(kv.Key).Shape)}] in the file but [{string.Join(", ", kv.Value.shape)}] in the model")
            .ToList();
        if (mismatched.Count > 0)
            throw new PeftSharpException(
                $"{path} was made for a different base model: {string.Join("; ", mismatched.Take(4))}{(mismatched.Count > 4 ? $"; and {mismatched.Count - 4} more" : "")}; " +
                $"load it on the base it was trained on{(trainedOn.Length > 0 ? trainedOn : " (its adapter_config.json names none)")}, or train an adapter for this model");
        var missing = expected.Keys.Where(k => !file.Contains(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
        if (missing.Count > 0)
            throw new PeftSharpException(
                $"{path} lacks {missing.Count} tensor(s) the config's targets need: {string.Join(", ", missing.Take(6))}{(missing.Count > 6 ? ", ..." : "")}; " +
                $"the file holds e.g. {string.Join(", ", file.Keys.Take(3))}: it was probably trained on another base{trainedOn}, or its adapter_config.json does not match its weights");
        using (no_grad())
            foreach (var (key, target) in expected)
            {
                using var t = file.Load(key, target.dtype);
                target.copy_(t);
            }
        // PEFT also stores the base embedding table when an embedding layer is adapted; ours is already loaded.
        var unexpected = file.Keys.Where(k => !expected.ContainsKey(k) && !k.Contains(".base_layer.", StringComparison.Ordinal)).ToList();
        if (unexpected.Count > 0)
            Diagnostics.Warn($"{path}: ignoring {unexpected.Count} tensor(s) that match no adapter layer: {string.Join(", ", unexpected.Take(5))}");
    }
}
