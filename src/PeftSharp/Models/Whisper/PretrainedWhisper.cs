using PeftSharp.Audio;
using PeftSharp.Generation.Whisper;
using PeftSharp.IO.HuggingFace;
using PeftSharp.IO.SafeTensors;
using PeftSharp.Nn.Quantized;
using PeftSharp.Tokenization;
using PeftSharp.Tokenization.Whisper;
using static TorchSharp.torch;

namespace PeftSharp.Models.Whisper;

/// <summary>
/// A loaded Whisper model with everything needed to transcribe: config, tokenizer and its special tokens, the mel
/// filterbank of the front end, and the folder's generation defaults.
/// </summary>
public sealed class PretrainedWhisper : IDisposable
{
    /// <summary>
    /// The loaded encoder-decoder with its weights filled; wrap it in a <see cref="Peft.PeftModel"/> to add adapters.
    /// </summary>
    public WhisperForConditionalGeneration Model { get; }
    /// <summary>The model's tokenizer (tokenizer.json, or OpenAI's *.tiktoken vocabulary).</summary>
    public ITextTokenizer Tokenizer { get; }
    /// <summary>
    /// Ids of the tokenizer's special tokens (start of transcript, languages, tasks, no timestamps, end of text).
    /// </summary>
    public WhisperSpecialTokens SpecialTokens { get; }
    /// <summary>The front end's mel filterbank, with the model's num_mel_bins filters.</summary>
    public MelFilterBank MelFilters { get; }
    /// <summary>
    /// The folder's generation_config.json (suppress lists, a default language), or null when it has none.
    /// </summary>
    public WhisperGenerationConfig? Generation { get; }
    /// <summary>Where the model was found (resolved folder and the argument given).</summary>
    public ModelLocation Location { get; }
    /// <summary>Which checkpoint tensors were loaded and which were not used by the model.</summary>
    public WeightLoadReport LoadReport { get; }
    /// <summary>The model's configuration (shorthand for <c>Model.Config</c>).</summary>
    public WhisperConfig Config => Model.Config;

    PretrainedWhisper(WhisperForConditionalGeneration model, ITextTokenizer tokenizer, MelFilterBank filters,
        WhisperGenerationConfig? generation, ModelLocation location, WeightLoadReport report)
    {
        Model = model;
        Tokenizer = tokenizer;
        SpecialTokens = WhisperSpecialTokens.From(tokenizer, model.Config.VocabSize);
        MelFilters = filters;
        Generation = generation;
        Location = location;
        LoadReport = report;
    }

    /// <summary>
    /// Loads a Hugging Face Whisper folder (config.json + model.safetensors or shards), a .safetensors file in one,
    /// or a repo id in the local Hugging Face cache. The tokenizer is the folder's tokenizer.json, else its *.tiktoken
    /// (or <see cref="ModelLoadOptions.TokenizerPath"/>); the filterbank is the folder's mel_filters.npz, else the
    /// Slaney filterbank transformers computes.
    /// </summary>
    public static PretrainedWhisper Load(string model, ModelLoadOptions? options = null)
    {
        options ??= new ModelLoadOptions();
        TorchRuntime.EnsureInitialized();
        var location = ModelLocator.Resolve(model);
        if (location.Format != ModelFormat.HuggingFaceFolder)
            throw new ConfigurationException($"{location.Path} is a llama2.c checkpoint, not a Whisper model: pass a Hugging Face Whisper folder (config.json + model.safetensors)");
        var config = WhisperConfig.FromFile(Path.Combine(location.Path, "config.json"));
        var quantization = options.Quantization is { Enabled: true } q ? q.Validate() : config.Quantization;
        // The output projection stays dense, as transformers keeps a model's output embeddings out of bitsandbytes.
        if (quantization is { Enabled: true }) quantization = quantization with { LlmInt8SkipModules = [.. quantization.LlmInt8SkipModules, "proj_out"] };
        config = config with { Quantization = quantization };
        var tokenizer = LoadTokenizer(location.Path, options.TokenizerPath, config.VocabSize);
        using var source = SafeTensorsCheckpoint.Open(location.Path);
        var (device, mapped) = options.Placement;
        WhisperForConditionalGeneration whisper;
        using (DefaultDeviceScope.On(device)) whisper = new WhisperForConditionalGeneration(config, PretrainedCausalLM.ResolveDType(options.DType, config.TorchDtype));
        try
        {
            var quantizer = quantization is { Enabled: true } ? new BnbWeightQuantizer(quantization) : null;
            var report = WeightLoader.Load(whisper, source, whisper.KeysNotRequired(source), mapped, quantizer);
            string npz = Path.Combine(location.Path, "mel_filters.npz");
            var filters = File.Exists(npz) ? MelFilterBank.FromNpz(npz, config.NumMelBins) : MelFilterBank.Slaney(config.NumMelBins);
            return new PretrainedWhisper(whisper, tokenizer, filters, WhisperGenerationConfig.FromFolder(location.Path), location, report);
        }
        catch
        {
            whisper.Dispose();
            throw;
        }
    }

    static ITextTokenizer LoadTokenizer(string folder, string? explicitPath, int vocabSize)
    {
        string where = explicitPath ?? folder;
        if (File.Exists(where))
            return where.EndsWith(".tiktoken", StringComparison.OrdinalIgnoreCase) ? WhisperTokenizer.FromVocabSize(where, vocabSize) : TokenizerLoader.FromFile(where);
        if (!Directory.Exists(where))
            throw new ConfigurationException($"tokenizer '{where}' not found: pass a tokenizer.json, a *.tiktoken file or a folder holding one");
        if (File.Exists(Path.Combine(where, "tokenizer.json"))) return TokenizerLoader.FromFolder(where);
        var tiktoken = Directory.GetFiles(where, "*.tiktoken").Order(StringComparer.Ordinal).ToList();
        if (tiktoken.Count > 0)
        {
            // English-only checkpoints (vocab 51864) pair with gpt2.tiktoken, multilingual ones with multilingual.tiktoken.
            var pick = tiktoken.FirstOrDefault(t => Path.GetFileName(t) == (vocabSize >= 51865 ? "multilingual.tiktoken" : "gpt2.tiktoken")) ?? tiktoken[0];
            return WhisperTokenizer.FromVocabSize(pick, vocabSize);
        }
        throw new ConfigurationException(
            $"no Whisper tokenizer in '{where}': expected tokenizer.json (Hugging Face) or multilingual.tiktoken / gpt2.tiktoken (OpenAI); pass one with the tokenizer option");
    }

    /// <summary>Log-mel features [num_mel_bins, 3000] of a WAV file (resampled to 16 kHz, padded or trimmed to 30 s).</summary>
    public Tensor Features(string wavPath) => LogMelSpectrogram.FromWav(wavPath, MelFilters);

    /// <summary>A decoder over this model, its special tokens and its generation defaults.</summary>
    public WhisperGenerator NewGenerator() => new(Model, SpecialTokens, Generation);

    /// <summary>Releases the model's tensors (memory-mapped checkpoint pages included).</summary>
    public void Dispose() => Model.Dispose();
}
