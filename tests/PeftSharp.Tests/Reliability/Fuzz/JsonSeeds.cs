using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace PeftSharp.Tests.Reliability.Fuzz;

/// <summary>Realistic, valid JSON seed files: model configs as transformers writes them, PEFT adapter configs, tokenizer.json.</summary>
internal static class JsonSeeds
{
    public static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    /// <summary>JSON as the tokenizers library writes it: UTF-8 text, not \u escapes.</summary>
    private static string Serialize<T>(T value) => JsonSerializer.Serialize(value, new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    /// <summary>Keys and short string values of the seeds: the vocabulary key renames and string replacements draw from.</summary>
    public static IReadOnlyList<string> Words(IEnumerable<byte[]> jsonSeeds)
    {
        var words = new HashSet<string>(StringComparer.Ordinal);
        void Walk(JsonElement e)
        {
            switch (e.ValueKind)
            {
                case JsonValueKind.Object:
                    foreach (var p in e.EnumerateObject()) { words.Add(p.Name); Walk(p.Value); }
                    break;
                case JsonValueKind.Array:
                    foreach (var item in e.EnumerateArray()) Walk(item);
                    break;
                case JsonValueKind.String when e.GetString()!.Length <= 40:
                    words.Add(e.GetString()!);
                    break;
            }
        }
        foreach (var seed in jsonSeeds)
        {
            try
            {
                using var doc = JsonDocument.Parse(seed);
                Walk(doc.RootElement);
            }
            catch (JsonException)
            {
                // JSON Lines: one document per line.
                foreach (var line in Encoding.UTF8.GetString(seed).Split('\n', StringSplitOptions.RemoveEmptyEntries))
                {
                    using var doc = JsonDocument.Parse(line);
                    Walk(doc.RootElement);
                }
            }
        }
        return [.. words.Order(StringComparer.Ordinal)];
    }

    public static readonly byte[][] LlamaConfigs =
    [
        Utf8("""
        {
          "architectures": ["LlamaForCausalLM"],
          "attention_bias": false,
          "attention_dropout": 0.0,
          "bos_token_id": 1,
          "eos_token_id": 2,
          "hidden_act": "silu",
          "hidden_size": 64,
          "initializer_range": 0.02,
          "intermediate_size": 172,
          "max_position_embeddings": 512,
          "mlp_bias": false,
          "model_type": "llama",
          "num_attention_heads": 8,
          "num_hidden_layers": 5,
          "num_key_value_heads": 4,
          "pretraining_tp": 1,
          "rms_norm_eps": 1e-05,
          "rope_scaling": null,
          "rope_theta": 10000.0,
          "tie_word_embeddings": true,
          "torch_dtype": "float32",
          "transformers_version": "4.46.0",
          "use_cache": true,
          "vocab_size": 512
        }
        """),
        Utf8("""
        {
          "architectures": ["LlamaForCausalLM"],
          "bos_token_id": 128000,
          "eos_token_id": [128001, 128008, 128009],
          "head_dim": 64,
          "hidden_act": "silu",
          "hidden_size": 2048,
          "intermediate_size": 8192,
          "max_position_embeddings": 131072,
          "model_type": "llama",
          "num_attention_heads": 32,
          "num_hidden_layers": 16,
          "num_key_value_heads": 8,
          "rms_norm_eps": 1e-05,
          "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0, "original_max_position_embeddings": 8192, "rope_type": "llama3"},
          "rope_theta": 500000.0,
          "tie_word_embeddings": true,
          "torch_dtype": "bfloat16",
          "vocab_size": 128256,
          "quantization_config": {"bnb_4bit_compute_dtype": "bfloat16", "bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": true,
            "load_in_4bit": true, "load_in_8bit": false, "llm_int8_skip_modules": ["lm_head"], "quant_method": "bitsandbytes"}
        }
        """),
        Utf8("""
        {
          "architectures": ["Qwen2ForCausalLM"],
          "bos_token_id": 151643,
          "eos_token_id": 151645,
          "hidden_act": "silu",
          "hidden_size": 896,
          "intermediate_size": 4864,
          "max_position_embeddings": 32768,
          "max_window_layers": 21,
          "model_type": "qwen2",
          "num_attention_heads": 14,
          "num_hidden_layers": 24,
          "num_key_value_heads": 2,
          "rms_norm_eps": 1e-06,
          "rope_parameters": {"rope_theta": 1000000.0, "rope_type": "default"},
          "sliding_window": 32768,
          "tie_word_embeddings": true,
          "dtype": "bfloat16",
          "use_sliding_window": false,
          "vocab_size": 151936
        }
        """),
    ];

    public static readonly byte[][] WhisperConfigs =
    [
        Utf8("""
        {
          "_name_or_path": "openai/whisper-tiny",
          "activation_dropout": 0.0,
          "activation_function": "gelu",
          "architectures": ["WhisperForConditionalGeneration"],
          "attention_dropout": 0.0,
          "begin_suppress_tokens": [220, 50257],
          "bos_token_id": 50257,
          "d_model": 384,
          "decoder_attention_heads": 6,
          "decoder_ffn_dim": 1536,
          "decoder_layerdrop": 0.0,
          "decoder_layers": 4,
          "decoder_start_token_id": 50258,
          "dropout": 0.0,
          "encoder_attention_heads": 6,
          "encoder_ffn_dim": 1536,
          "encoder_layerdrop": 0.0,
          "encoder_layers": 4,
          "eos_token_id": 50257,
          "forced_decoder_ids": [[1, 50259], [2, 50359], [3, 50363]],
          "init_std": 0.02,
          "is_encoder_decoder": true,
          "max_length": 448,
          "max_source_positions": 1500,
          "max_target_positions": 448,
          "model_type": "whisper",
          "num_hidden_layers": 4,
          "num_mel_bins": 80,
          "pad_token_id": 50257,
          "scale_embedding": false,
          "suppress_tokens": [1, 2, 7, 8, 9, 10, 14, 25, 26, 27, 28, 29, 31, 58, 59, 60, 61, 62, 63, 90, 91, 92, 93, 359, 503, 522, 542],
          "torch_dtype": "float32",
          "transformers_version": "4.27.0.dev0",
          "use_cache": true,
          "vocab_size": 51865
        }
        """),
        Utf8("""
        {
          "activation_function": "gelu",
          "d_model": 1280,
          "decoder_attention_heads": 20,
          "decoder_ffn_dim": 5120,
          "decoder_layers": 4,
          "encoder_attention_heads": 20,
          "encoder_ffn_dim": 5120,
          "encoder_layers": 32,
          "eos_token_id": [50257],
          "model_type": "whisper",
          "num_mel_bins": 128,
          "torch_dtype": "float16",
          "vocab_size": 51866,
          "quantization_config": {"load_in_8bit": true, "llm_int8_threshold": 6.0, "quant_method": "bitsandbytes"}
        }
        """),
    ];

    public static readonly byte[][] ClassifierConfigs =
    [
        Utf8("""
        {
          "architectures": ["LlamaForSequenceClassification"],
          "hidden_act": "silu",
          "hidden_size": 64,
          "id2label": {"0": "negative", "1": "positive"},
          "intermediate_size": 172,
          "label2id": {"negative": 0, "positive": 1},
          "model_type": "llama",
          "num_attention_heads": 8,
          "num_hidden_layers": 5,
          "num_key_value_heads": 4,
          "pad_token_id": 0,
          "problem_type": "single_label_classification",
          "torch_dtype": "float32",
          "vocab_size": 512
        }
        """),
        Utf8("""
        {
          "architectures": ["Qwen2ForSequenceClassification"],
          "hidden_size": 896,
          "id2label": {"0": "World", "1": "Sports", "2": "Business", "3": "Sci/Tech"},
          "intermediate_size": 4864,
          "label2id": {"Business": 2, "Sci/Tech": 3, "Sports": 1, "World": 0},
          "model_type": "qwen2",
          "num_attention_heads": 14,
          "num_hidden_layers": 24,
          "num_key_value_heads": 2,
          "num_labels": 4,
          "torch_dtype": "bfloat16",
          "vocab_size": 151936
        }
        """),
        Utf8("""
        {"model_type": "llama", "hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2, "vocab_size": 100, "num_labels": 3}
        """),
    ];

    public static readonly byte[][] AdapterConfigs =
    [
        // A LoRA adapter_config.json as PEFT writes it (every key, sorted, one unknown to us).
        Utf8(Peft.AdapterFolderTests.PeftStyleConfig),
        Utf8("""
        {"peft_type": "LORA", "r": 4, "lora_alpha": 8.0, "target_modules": "model\\.layers\\.\\d+\\.self_attn\\.(q|v)_proj",
         "exclude_modules": ["lm_head"], "layers_to_transform": [0, 1], "init_lora_weights": "gaussian", "use_rslora": true,
         "alpha_pattern": {"v_proj": 4.0}, "rank_pattern": {"q_proj": 16}, "modules_to_save": ["score"], "task_type": "SEQ_CLS"}
        """),
        Utf8("""
        {
          "base_model_name_or_path": "stories260K",
          "beta1": 0.85,
          "beta2": 0.85,
          "deltaT": 1,
          "init_r": 12,
          "lora_alpha": 32,
          "lora_dropout": 0.0,
          "orth_reg_weight": 0.5,
          "peft_type": "ADALORA",
          "r": 8,
          "rank_pattern": {"model.layers.0.self_attn.q_proj.lora_E": [true, false, true, true, true, true, true, true, false, true, true, true]},
          "target_modules": ["q_proj", "v_proj"],
          "target_r": 8,
          "task_type": "CAUSAL_LM",
          "tfinal": 10,
          "tinit": 5,
          "total_step": 100
        }
        """),
        Utf8("""
        {"peft_type": "IA3", "target_modules": ["k_proj", "v_proj", "down_proj"], "feedforward_modules": ["down_proj"],
         "init_ia3_weights": true, "fan_in_fan_out": false, "inference_mode": true, "task_type": "CAUSAL_LM", "modules_to_save": null}
        """),
        Utf8("""
        {"peft_type": "PROMPT_TUNING", "task_type": "CAUSAL_LM", "num_virtual_tokens": 8, "token_dim": 64, "num_attention_heads": 8,
         "num_layers": 5, "num_transformer_submodules": 1, "prompt_tuning_init": "TEXT", "prompt_tuning_init_text": "Classify the sentiment:",
         "tokenizer_name_or_path": "stories260K", "tokenizer_kwargs": null, "inference_mode": true}
        """),
        Utf8("""
        {"peft_type": "PREFIX_TUNING", "task_type": "CAUSAL_LM", "num_virtual_tokens": 10, "token_dim": 64, "num_attention_heads": 8,
         "num_layers": 5, "encoder_hidden_size": 64, "prefix_projection": true, "inference_mode": false}
        """),
    ];

    /// <summary>A Llama-style (SentencePiece BPE, byte fallback) tokenizer.json with a tiny vocabulary.</summary>
    public static byte[] SentencePieceStyleTokenizer()
    {
        var vocab = new List<string> { "<unk>", "<s>", "</s>" };
        foreach (int b in new[] { 0x0A, 0x20, 0x21, 0x3C, 0xA9, 0xC3, 0xF0, 0x9F, 0x91, 0x8B })
            vocab.Add($"<0x{b:X2}>");
        vocab.AddRange(["▁", "e", "h", "l", "o", "w", "r", "d", ",", "▁h", "he", "ll", "lo", "▁he", "llo", "▁hello", "▁w", "or", "▁wor", "ld", "▁world"]);
        string[] merges = ["▁ h", "h e", "l l", "l o", "▁h e", "ll o", "▁he llo", "▁ w", "o r", "▁w or", "l d", "▁wor ld"];
        string added = string.Join(",", new[] { "<unk>", "<s>", "</s>" }.Select((t, i) =>
            $$"""{"id":{{i}},"content":"{{t}}","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}"""));
        return Utf8($$$"""
        {
          "version": "1.0",
          "truncation": null,
          "padding": null,
          "added_tokens": [{{{added}}}],
          "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
          "pre_tokenizer": null,
          "post_processor": {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]} } },
          "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
          "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>", "continuing_subword_prefix": null, "end_of_word_suffix": null,
            "fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
            "vocab": {{{Serialize(vocab.Select((t, i) => (t, i)).ToDictionary(x => x.t, x => x.i))}}},
            "merges": {{{Serialize(merges)}}} }
        }
        """);
    }

    /// <summary>A GPT-2 / Llama-3 style (byte-level BPE) tokenizer.json with a tiny vocabulary and pair-form merges.</summary>
    public static byte[] ByteLevelTokenizer(bool splitPreTokenizer)
    {
        var vocab = new List<string> { "H", "e", "l", "o", "Ġ", "w", "r", "d", ",", "!", "Ã", "©", "He", "ll", "Hell", "Hello", "Ġw", "or", "Ġwor", "ld", "Ġworld", "<|endoftext|>" };
        string[][] merges = [["H", "e"], ["l", "l"], ["He", "ll"], ["Hell", "o"], ["Ġ", "w"], ["o", "r"], ["Ġw", "or"], ["l", "d"], ["Ġwor", "ld"]];
        string pre = splitPreTokenizer
            ? """{"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}, "behavior": "Isolated", "invert": false}, {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]}"""
            : """{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}""";
        return Utf8($$$"""
        {
          "version": "1.0",
          "added_tokens": [{"id": 21, "content": "<|endoftext|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
          "normalizer": null,
          "pre_tokenizer": {{{pre}}},
          "post_processor": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
          "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
          "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": "", "end_of_word_suffix": "",
            "fuse_unk": false, "byte_fallback": false, "ignore_merges": {{{(splitPreTokenizer ? "true" : "false")}}},
            "vocab": {{{Serialize(vocab.Select((t, i) => (t, i)).ToDictionary(x => x.t, x => x.i))}}},
            "merges": {{{Serialize(merges)}}} }
        }
        """);
    }
}
