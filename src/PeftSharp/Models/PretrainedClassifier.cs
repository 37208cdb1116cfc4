using System.Text.Json.Nodes;
using PeftSharp.Data.Classification;
using PeftSharp.IO;
using PeftSharp.IO.HuggingFace;
using PeftSharp.Models.Llama;
using PeftSharp.Nn.Quantized;
using PeftSharp.Peft;
using PeftSharp.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Models;

/// <summary>
/// A Llama-family sequence classifier ready to train or use: from an HF classification checkpoint (its score head and
/// id2label), or from a causal-LM checkpoint with a new score head for the given labels (as HF's from_pretrained
/// initialises a missing head: normal(0, initializer_range)), optionally with a trained adapter on top.
/// </summary>
public sealed class PretrainedClassifier : IDisposable
{
    /// <summary>The classifier, weights loaded (and the adapter injected when one was given).</summary>
    public LlamaForSequenceClassification Model { get; }
    /// <summary>The base model's tokenizer, or null when none was found and none was given.</summary>
    public ITextTokenizer? Tokenizer { get; }
    /// <summary>Where the base model was found (format, resolved path, argument given).</summary>
    public ModelLocation Location { get; }
    /// <summary>
    /// The adapter loaded from the adapter folder, wrapping <see cref="Model"/>; null when no adapter folder was given.
    /// </summary>
    public PeftModel? Peft { get; }
    /// <summary>True when the score head was created here rather than read from the checkpoint.</summary>
    public bool NewHead { get; }
    readonly IReadOnlyList<string> tokenizerFiles;

    PretrainedClassifier(LlamaForSequenceClassification model, ITextTokenizer? tokenizer, IReadOnlyList<string> tokenizerFiles, ModelLocation location, PeftModel? peft, bool newHead)
    {
        Model = model;
        Tokenizer = tokenizer;
        this.tokenizerFiles = tokenizerFiles;
        Location = location;
        Peft = peft;
        NewHead = newHead;
    }

    /// <summary>
    /// The label names by id (id2label), for mapping data labels to ids and predictions back to names.
    /// </summary>
    public LabelMap Labels => new(Model.Labels);

    /// <summary>
    /// The tokenizer files to copy into a saved model folder, keyed by their name there (see <see
    /// cref="PretrainedCausalLM.TokenizerFiles"/>).
    /// </summary>
    public IReadOnlyDictionary<string, string> TokenizerFiles() => PretrainedCausalLM.TokenizerFilesFor(Location, Tokenizer, tokenizerFiles);

    /// <summary>
    /// Loads a Llama-family base and builds its sequence classifier (HF's AutoModelForSequenceClassification), then
    /// applies the adapter when one is given. The score head is kept out of quantization.
    /// </summary>
    /// <param name="model">A model folder, llama2.c file or cached Hugging Face repo id.</param>
    /// <param name="options">dtype, tokenizer, memory mapping and quantization; null = defaults.</param>
    /// <param name="seed">Seed of the normal(0, 0.02) initialisation of a new score head; default 42.</param>
    /// <exception cref="ConfigurationException">No labels can be found (no head, no labels given, no adapter config
    /// naming them), or a setting is invalid.</exception>
    /// <exception cref="PeftSharpException">The checkpoint does not match its config, or the adapter folder cannot be
    /// read.</exception>
    /// <param name="labels">
    /// The label names to classify into (training from data). Null: the adapter folder's config.json id2label, else the
    /// checkpoint's own head and id2label.
    /// </param>
    /// <param name="adapterFolder">A PEFT adapter (with its modules_to_save head) trained on this base with task classification.</param>
    public static PretrainedClassifier Load(string model, ModelLoadOptions? options = null, IReadOnlyList<string>? labels = null,
        string? adapterFolder = null, long seed = 42)
    {
        options ??= new ModelLoadOptions();
        TorchRuntime.EnsureInitialized();
        var location = ModelLocator.Resolve(model);
        var (config, source) = PretrainedCausalLM.OpenCheckpoint(location);
        using (source)
        {
            var tokenizer = PretrainedCausalLM.LoadTokenizer(location, options.TokenizerPath);
            bool hasHead = source.Contains("score.weight");
            JsonReading? adapterConfig = adapterFolder is not null && File.Exists(Path.Combine(adapterFolder, "config.json"))
                ? JsonReading.FromFile(Path.Combine(adapterFolder, "config.json")) : null;
            labels ??= adapterConfig is not null && adapterConfig.Has("id2label") ? LlamaForSequenceClassification.LabelsFromConfig(adapterConfig)
                : hasHead && location.Format != ModelFormat.LlamaC ? LlamaForSequenceClassification.LabelsFromConfig(JsonReading.FromFile(Path.Combine(location.Path, "config.json")))
                : throw new ConfigurationException(
                    $"{model} has no classification head and no label names were given: pass --adapter with a folder trained with task: classification (its config.json names the labels), or a model saved by classification training");
            // Padded batches pool the last unmasked token; a pad id is still needed for HF's pad-based pooling and in the saved config.
            var padId = config.PadTokenId ?? (adapterConfig is { } ac && ac.Has("pad_token_id") ? ac.RequireInt("pad_token_id") : (int?)null) ?? tokenizer.Item1?.PadId ?? tokenizer.Item1?.EosId ?? 0;
            config = config with { PadTokenId = padId };
            var dtype = PretrainedCausalLM.ResolveDType(options.DType, config.TorchDtype);
            var quantization = options.Quantization is { Enabled: true } q ? q.Validate() : config.Quantization;
            // The head stays dense (as transformers keeps it out of bitsandbytes): it is small and trained in full.
            if (quantization is { Enabled: true } qc && !qc.LlmInt8SkipModules.Contains("score"))
                quantization = qc with { LlmInt8SkipModules = [.. qc.LlmInt8SkipModules, "score"] };
            config = config with { Quantization = quantization };
            var (device, mapped) = options.Placement;
            LlamaForSequenceClassification classifier;
            using (DefaultDeviceScope.On(device)) classifier = new LlamaForSequenceClassification(config, labels, dtype);
            bool newHead = !hasHead || (source.GetInfo("score.weight").Shape[0] != labels.Count && adapterFolder is not null);
            var quantizer = quantization is { Enabled: true } ? new BnbWeightQuantizer(quantization) : null;
            WeightLoader.Load(classifier, source, newHead ? new HashSet<string> { "score.weight" } : null, mapped, quantizer);
            if (newHead) InitializeHead(classifier, seed);
            PeftModel? peft = null;
            if (adapterFolder is not null)
            {
                try { peft = AdapterFolder.Load(classifier, adapterFolder); }
                catch
                {
                    classifier.Dispose();
                    throw;
                }
            }
            return new PretrainedClassifier(classifier, tokenizer.Item1, tokenizer.Item2, location, peft, newHead && adapterFolder is null);
        }
    }

    /// <summary>normal(0, 0.02): Llama's initializer_range default, as transformers initialises a head it did not find.</summary>
    static void InitializeHead(LlamaForSequenceClassification model, long seed, double std = 0.02)
    {
        using var g = new Generator().manual_seed(seed);
        using var _ = no_grad();
        using var w = normal(0, std, model.score.weight.shape, dtype: ScalarType.Float32, generator: g);
        model.score.weight.copy_(w);
    }

    /// <summary>Releases the model's tensors.</summary>
    public void Dispose() => Model.Dispose();
}

/// <summary>The config.json of a classifier: the base config with its architecture, pad id and label names.</summary>
public static class ClassifierConfig
{
    /// <summary>
    /// The config.json to save with <paramref name="model"/>: its base config with architectures set to
    /// ...ForSequenceClassification, torch_dtype from the head's dtype, pad_token_id, and id2label/label2id.
    /// </summary>
    public static JsonObject ToJson(LlamaForSequenceClassification model)
    {
        var o = (model.Config with { TorchDtype = ModelFolderWriter.DTypeName(model.score.weight.dtype) }).ToJson();
        var causal = o["architectures"]?[0]?.GetValue<string>() ?? "LlamaForCausalLM";
        o["architectures"] = new JsonArray(causal.Replace("ForCausalLM", "ForSequenceClassification", StringComparison.Ordinal));
        new LabelMap(model.Labels).WriteTo(o);
        return o;
    }
}
