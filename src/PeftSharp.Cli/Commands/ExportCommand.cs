using System.CommandLine;
using System.Text.Json;
using PeftSharp.IO.Gguf;
using PeftSharp.IO.HuggingFace;
using PeftSharp.Models.Llama;
using PeftSharp.Peft;
using PeftSharp.Tokenization;

namespace PeftSharp.Cli.Commands;

/// <summary>
/// `peftsharp export --format gguf`: a model (with an adapter merged in, when given) as one GGUF file for llama.cpp
/// and Ollama, or with --adapter-only the LoRA adapter alone in llama.cpp's adapter GGUF form.
/// </summary>
internal static class ExportCommand
{
    public static Command Create(TextWriter stdout)
    {
        var modelOptions = new ModelOptions();
        var format = new Option<string>("--format") { Description = "Output format: gguf (llama.cpp, Ollama)", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "The .gguf file to write (replaced if it exists)", Required = true };
        var outType = new Option<string>("--outtype") { Description = $"Tensor type: {GgufFileTypes.Names} (norms stay f32)", DefaultValueFactory = _ => "f16" };
        var adapterOnly = new Option<bool>("--adapter-only") { Description = "Write the LoRA adapter of --adapter as a llama.cpp adapter GGUF instead of a merged model" };
        var cmd = new Command("export", "Export a model (with an adapter merged in) or a LoRA adapter for llama.cpp / Ollama") { format, output, outType, adapterOnly };
        modelOptions.AddTo(cmd);
        cmd.SetAction(r =>
        {
            if (r.GetValue(format) is not "gguf") throw new ConfigurationException($"--format '{r.GetValue(format)}' is not supported: use --format gguf");
            var fileType = GgufFileTypes.Parse(r.GetValue(outType)!);
            var location = modelOptions.Check(r);
            var outPath = r.GetValue(output)!;
            if (Directory.Exists(outPath)) throw new ConfigurationException($"--out '{outPath}' is a folder: give the path of the .gguf file to write");
            OutputFolder.CheckOutsideModel(outPath, "--out", location.Folder);
            if (modelOptions.LoadOptions(r).Quantization is not null)
                throw new ConfigurationException("export needs dense base weights: merging into 4/8-bit weights is lossy and llama.cpp quantizes itself; drop --load-in-4bit/--load-in-8bit (use --outtype q8_0 for a smaller file)");
            CheckCausalLlama(location);
            var adapter = modelOptions.AdapterPath(r);
            if (adapter is not null) CheckCausalAdapter(adapter);
            var name = Path.GetFileNameWithoutExtension(Path.TrimEndingDirectorySeparator(location.Path));
            if (r.GetValue(adapterOnly))
            {
                if (adapter is null) throw new ConfigurationException("--adapter-only needs --adapter <adapter folder>");
                var (baseLm, peft) = modelOptions.Load(r);
                using var _ = baseLm;
                var summary = LoraGgufExport.Write(peft!, baseLm.Config, outPath, fileType, Path.GetFileName(Path.TrimEndingDirectorySeparator(adapter)));
                if (summary.Folded > 0)
                    Diagnostics.Warn($"{summary.Folded} of {summary.Modules} modules scale by other than alpha / r (rsLoRA or rank/alpha patterns); llama.cpp takes one alpha per file, so their scale was folded into lora_b");
                stdout.WriteLine($"wrote {Path.GetFullPath(outPath)} (LoRA adapter, {summary.Modules} modules, alpha {summary.Alpha}, {fileType})");
                return 0;
            }
            if (adapter is not null) MergeCommand.CheckMergeable(adapter);
            var (lm, _) = MergeCommand.LoadMerged(modelOptions, r);
            using (lm)
            {
                var tokenizer = lm.Tokenizer ?? throw new ConfigurationException($"no tokenizer found beside {location.Path}: llama.cpp needs one in the GGUF; pass --tokenizer <file or folder>");
                var templateFolder = modelOptions.TokenizerPath(r) is { } t && Directory.Exists(t) ? t : location.Format == ModelFormat.HuggingFaceFolder ? location.Path : null;
                LlamaGgufExport.Write(lm.Model, tokenizer, outPath, fileType, name, templateFolder is null ? null : GgufVocabulary.ChatTemplateOf(templateFolder));
                stdout.WriteLine($"wrote {Path.GetFullPath(outPath)} ({LlamaGgufNames.Architecture(lm.Config)}, {lm.Config.NumHiddenLayers} layers, {fileType}{(adapter is null ? "" : $", {adapter} merged")})");
            }
            return 0;
        });
        return cmd;
    }

    // llama.cpp runs decoder LMs: refuse Whisper and classifier checkpoints with a reason rather than a loader error.
    static void CheckCausalLlama(ModelLocation location)
    {
        if (location.Format != ModelFormat.HuggingFaceFolder) return;
        var config = Path.Combine(location.Path, "config.json");
        if (!File.Exists(config)) return;
        using var doc = JsonDocument.Parse(File.ReadAllBytes(config));
        var root = doc.RootElement;
        var type = root.TryGetProperty("model_type", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
        var archs = root.TryGetProperty("architectures", out var a) && a.ValueKind == JsonValueKind.Array
            ? a.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()!).ToList() : [];
        if (type is not null && !LlamaConfig.SupportedModelTypes.Contains(type))
            throw new ConfigurationException($"{config}: model_type '{type}' cannot be exported to GGUF: export covers Llama-family causal LMs ({string.Join(", ", LlamaConfig.SupportedModelTypes)})");
        if (archs.FirstOrDefault(n => !n.EndsWith("ForCausalLM", StringComparison.Ordinal)) is { } other)
            throw new ConfigurationException($"{config}: a {other} cannot be exported to GGUF: llama.cpp runs causal LMs (…ForCausalLM); a classifier's head has no llama.cpp form");
    }

    static void CheckCausalAdapter(string folder)
    {
        var config = AdapterFolder.ReadConfig(folder);
        if (config.TaskType is { } task && task != "CAUSAL_LM")
            throw new ConfigurationException($"adapter {folder} has task_type {task}: GGUF export covers causal LM adapters only (a classifier's head has no llama.cpp form)");
    }
}
