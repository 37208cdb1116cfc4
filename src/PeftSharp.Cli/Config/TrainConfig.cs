using PeftSharp.Adapters;
using PeftSharp.Data;
using PeftSharp.Models;
using PeftSharp.Generation.Whisper;
using PeftSharp.IO.HuggingFace;
using PeftSharp.Nn.Quantized;
using PeftSharp.Training;

namespace PeftSharp.Cli.Config;

/// <summary>Everything `peftsharp train` needs, read from YAML with the ecosystem's key names (axolotl / TRL / PEFT).</summary>
public sealed record TrainConfig(
    string BaseModel,
    string? Tokenizer,
    string DType,
    QuantizationConfig? Quantization,
    AdapterConfig? Adapter,
    IReadOnlyList<DatasetConfig> Datasets,
    TrainerOptions Trainer,
    bool GroupByLength)
{
    /// <summary>causal_lm (SFT / pre-training), classification (a score head over the decoder), or asr (Whisper).</summary>
    public string Task { get; init; } = "causal_lm";
    /// <summary>Classification: label names in id order (null: from the data).</summary>
    public IReadOnlyList<string>? Labels { get; init; }
    /// <summary>Classification: none, balanced, or one weight per label ("1.0,2.5").</summary>
    public string? ClassWeights { get; init; }
    /// <summary>ASR: the spoken language forced in the decoder prefix (null: a manifest row's own, else detected at eval).</summary>
    public string? Language { get; init; }
    /// <summary>ASR: transcribe or translate.</summary>
    public string SpeechTask { get; init; } = "transcribe";
    /// <summary>ASR: decode the eval clips at each evaluation and report WER/CER beside the loss.</summary>
    public bool EvalWer { get; init; } = true;
    /// <summary>Prompts completed greedily before and after training, so the run shows what it changed (causal_lm only).</summary>
    public IReadOnlyList<string> SamplePrompts { get; init; } = Array.Empty<string>();
    /// <summary>New tokens per sample.</summary>
    public int SampleMaxNewTokens { get; init; } = 64;
    /// <summary>Where the model computes: cpu, cuda, cuda:N or auto (checked against what torch sees while reading).</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>How the base model loads: dtype, tokenizer, quantization and device as configured.</summary>
    public ModelLoadOptions LoadOptions(string configDir) => new()
    {
        DType = DType,
        TokenizerPath = Tokenizer is null ? null : Commands.TrainCommand.Locate(Tokenizer, configDir),
        Quantization = Quantization,
        MemoryMapped = Adapter is not null, // full fine-tuning writes every weight: give it private memory up front
        Device = ComputeDevice.Parse(Device),
    };

    public static readonly string[] Tasks = { "causal_lm", "classification", "asr" };

    public static TrainConfig Read(ConfigSection c)
    {
        var baseModel = BaseModelChoice(c);
        var adapter = (c.String("adapter") ?? "lora").ToLowerInvariant();
        if (adapter is not ("none" or "full") && !AdapterSections.Names.Contains(adapter))
            throw c.Error("adapter", $"must be one of {string.Join(", ", AdapterSections.Names)}, or none / full (full fine-tuning), found '{adapter}'");
        var quant = new QuantizationConfig
        {
            LoadIn4Bit = c.Bool("load_in_4bit") ?? adapter == "qlora",
            LoadIn8Bit = c.Bool("load_in_8bit") ?? false,
            Bnb4BitQuantType = c.String("bnb_4bit_quant_type") ?? (adapter == "qlora" ? "nf4" : "fp4"),
            Bnb4BitUseDoubleQuant = c.Bool("bnb_4bit_use_double_quant") ?? adapter == "qlora",
            Bnb4BitComputeDtype = c.String("bnb_4bit_compute_dtype") ?? "float32",
            LlmInt8Threshold = c.Double("llm_int8_threshold") ?? 6.0,
        };
        if (quant.Enabled && adapter is "none" or "full")
            throw c.Error("adapter", "full fine-tuning cannot update quantized weights: use adapter: lora/qlora, or drop load_in_4bit/load_in_8bit");
        int seqLen = c.Int("sequence_len") ?? 2048;
        if (seqLen <= 0) throw c.Error("sequence_len", $"must be a positive number of tokens, found {seqLen}");
        var dtype = c.String("dtype") ?? "auto";
        if (dtype != "auto") Checked(c, () => PretrainedCausalLM.ResolveDType(dtype, null));
        bool packing = c.Bool("sample_packing") ?? false;
        bool trainOnInputs = c.Bool("train_on_inputs") ?? false;
        var chatTemplate = c.String("chat_template");
        double valSet = c.Double("val_set_size") ?? 0;
        int seed = c.Int("seed") ?? 42;
        var datasets = c.Sections("datasets").Select(d => ReadDataset(d, seqLen, packing, trainOnInputs, chatTemplate, valSet, seed)).ToList();
        if (datasets.Count == 0) throw c.Error("datasets", "is required: add a list of { path: ..., format: text|alpaca|messages|prompt_completion }");
        if (datasets.Select(d => (d.MaxSeqLength, d.Packing)).Distinct().Count() > 1)
            throw c.Error("datasets", "entries must share max_seq_length and packing (they are batched together)");
        var trainer = Checked(c, () => new TrainerOptions
        {
            OutputDir = c.String("output_dir") ?? "output",
            Seed = seed,
            MicroBatchSize = c.Int("micro_batch_size") ?? 1,
            GradientAccumulationSteps = c.Int("gradient_accumulation_steps") ?? 1,
            NumEpochs = c.Int("num_epochs") ?? 1,
            MaxSteps = c.Int("max_steps") ?? 0,
            LearningRate = c.Double("learning_rate") ?? 2e-4,
            LrScheduler = c.String("lr_scheduler") ?? "cosine",
            WarmupSteps = c.Int("warmup_steps") ?? 0,
            WarmupRatio = c.Double("warmup_ratio") ?? 0,
            WeightDecay = c.Double("weight_decay") ?? 0,
            MaxGradNorm = c.Double("max_grad_norm") ?? 1.0,
            Optimizer = c.String("optimizer") ?? "adamw",
            AdamBeta1 = c.Double("adam_beta1") ?? 0.9,
            AdamBeta2 = c.Double("adam_beta2") ?? 0.999,
            AdamEpsilon = c.Double("adam_epsilon") ?? 1e-8,
            LoggingSteps = c.Int("logging_steps") ?? 10,
            EvalSteps = c.Int("eval_steps") ?? 0,
            SaveSteps = c.Int("save_steps") ?? 0,
            SaveTotalLimit = c.Int("save_total_limit") ?? 2,
            EarlyStoppingPatience = c.Int("early_stopping_patience") ?? 0,
            MaxBadSteps = c.Int("max_bad_steps") ?? 5,
            DdpTimeout = c.Int("ddp_timeout") ?? 1800,
            GradientCheckpointing = c.Bool("gradient_checkpointing") ?? false,
            ChunkedLoss = c.Bool("chunked_loss") ?? true,
            TensorBoard = c.Bool("tensorboard") ?? true,
            ResumeFromCheckpoint = c.String("resume_from_checkpoint"),
        }.Validate());
        if (!datasets.Any(d => d.EvalPath is not null || d.EvalSplit > 0))
            foreach (var (key, value) in new[] { ("eval_steps", trainer.EvalSteps), ("early_stopping_patience", trainer.EarlyStoppingPatience) })
                if (value > 0)
                    throw c.Error(key, $"is {value} but there is no evaluation data: set val_set_size (e.g. 0.1) or a dataset's eval_path, or remove {key}");
        var method = AdapterSections.Read(adapter, c);
        var task = (c.String("task") ?? "causal_lm").ToLowerInvariant();
        if (!Tasks.Contains(task)) throw c.Error("task", $"must be one of {string.Join(", ", Tasks)}, found '{task}'");
        if (task != "causal_lm" && datasets.Count != 1)
            throw c.Error("datasets", $"holds {datasets.Count} entries but task: {task} takes one dataset: use eval_path or val_set_size for evaluation data");
        var classWeights = c.Strings("class_weights") is { } cw ? string.Join(",", cw) : null;
        if (task != "classification" && (c.Has("labels") || classWeights is not null))
            throw c.Error(c.Has("labels") ? "labels" : "class_weights", "applies to task: classification only: remove it or set task: classification");
        var labels = c.Strings("labels");
        var labelMap = labels is null ? null : Checked(c, () => new Data.Classification.LabelMap(labels));
        Checked(c, () => { Data.Classification.ClassWeights.Validate(classWeights, labelMap); return 0; });
        foreach (var key in new[] { "language", "speech_task", "eval_wer" })
            if (task != "asr" && c.Has(key)) throw c.Error(key, "applies to task: asr only: remove it or set task: asr");
        var language = c.String("language");
        Checked(c, () => new WhisperDecodingOptions { Language = language }.Validate());
        var speechTask = (c.String("speech_task") ?? "transcribe").ToLowerInvariant();
        if (speechTask is not ("transcribe" or "translate")) throw c.Error("speech_task", $"must be transcribe or translate, found '{speechTask}'");
        var config = new TrainConfig(baseModel, c.String("tokenizer"), dtype,
            quant.Enabled ? Checked(c, quant.Validate) : null, method, datasets, trainer, c.Bool("group_by_length") ?? false)
        {
            Task = task,
            Labels = labels,
            ClassWeights = classWeights,
            Language = language,
            SpeechTask = speechTask,
            EvalWer = c.Bool("eval_wer") ?? true,
            SamplePrompts = c.Strings("sample_prompts") ?? Array.Empty<string>(),
            SampleMaxNewTokens = c.Int("sample_max_new_tokens") ?? 64,
            Device = c.String("device") ?? "cpu",
        };
        Checked(c, () => ComputeDevice.Parse(config.Device));
        if (config.SampleMaxNewTokens <= 0) throw c.Error("sample_max_new_tokens", $"must be a positive number of tokens, found {config.SampleMaxNewTokens}");
        if (config.SamplePrompts.Count > 0 && task != "causal_lm")
            throw c.Error("sample_prompts", $"applies to task: causal_lm only (this run is task: {task}): remove it");
        c.EnsureAllRead();
        return config;
    }

    /// <summary>
    /// base_model: one model, or a list of candidates: the first that exists on disk (relative to the working folder or
    /// the config's folder; a repo id counts when the Hugging Face cache holds it), else the last entry (typically a
    /// Hugging Face repo id, downloaded when the model loads).
    /// </summary>
    static string BaseModelChoice(ConfigSection c)
    {
        var candidates = c.Strings("base_model");
        if (candidates is null || candidates.Count == 0 || candidates.Any(string.IsNullOrWhiteSpace))
            throw c.Error("base_model", "is required (a model folder, file or Hugging Face repo id, or a list of them to try in order)");
        var expanded = candidates.Select(ConfigSection.ExpandEnvironment).ToList();
        var configDir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(c.Source)) ?? ".";
        var cache = ModelLocator.HubCacheDir();
        return expanded.FirstOrDefault(m => Exists(m) || Exists(System.IO.Path.Combine(configDir, m)) || ModelLocator.IsInHubCache(m, cache)) ?? expanded[^1];
        static bool Exists(string p) => File.Exists(p) || Directory.Exists(p);
    }

    /// <summary>Runs a library check, naming the config file in its message.</summary>
    static T Checked<T>(ConfigSection c, Func<T> check)
    {
        try { return check(); }
        catch (ConfigurationException e) when (!e.Message.StartsWith(c.Source, StringComparison.Ordinal))
        {
            throw new ConfigurationException($"{c.Source}: {e.Message}");
        }
    }

    static DatasetConfig ReadDataset(ConfigSection d, int seqLen, bool packing, bool trainOnInputs, string? chatTemplate, double valSet, int seed)
    {
        var defaults = new DatasetConfig();
        return new DatasetConfig
        {
            Path = d.String("path") ?? throw d.Error("path", "is required"),
            Type = d.String("type"),
            Format = d.String("format") ?? defaults.Format,
            TextField = d.String("text_field") ?? defaults.TextField,
            LabelField = d.String("label_field") ?? defaults.LabelField,
            AudioField = d.String("audio_field") ?? defaults.AudioField,
            InstructionField = d.String("instruction_field") ?? defaults.InstructionField,
            InputField = d.String("input_field") ?? defaults.InputField,
            OutputField = d.String("output_field") ?? defaults.OutputField,
            SystemField = d.String("system_field") ?? defaults.SystemField,
            MessagesField = d.String("messages_field") ?? defaults.MessagesField,
            PromptField = d.String("prompt_field") ?? defaults.PromptField,
            CompletionField = d.String("completion_field") ?? defaults.CompletionField,
            ColumnNames = d.Strings("column_names"),
            ChatTemplate = d.String("chat_template") ?? chatTemplate,
            TrainOnInputs = d.Bool("train_on_inputs") ?? trainOnInputs,
            MaxSeqLength = d.Int("max_seq_length") ?? seqLen,
            Packing = d.Bool("packing") ?? packing,
            AddEos = d.Bool("add_eos") ?? defaults.AddEos,
            EvalSplit = d.Double("eval_split") ?? valSet,
            EvalPath = d.String("eval_path"),
            Seed = d.Int("seed") ?? seed,
            OnError = d.String("on_error") ?? defaults.OnError,
            TextSplit = d.String("text_split") ?? defaults.TextSplit,
            Streaming = d.Bool("streaming") ?? defaults.Streaming,
        }.Validate($"{d.Source}: {d.Path}");
    }
}
