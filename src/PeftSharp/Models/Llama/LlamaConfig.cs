using System.Text.Json.Nodes;
using PeftSharp.Nn.Quantized;

namespace PeftSharp.Models.Llama;

/// <summary>
/// The Llama-family decoder configuration (Llama 2/3, Qwen2, Mistral, SmolLM), read from and written to HF's
/// config.json with HF's field names. Accepts both the transformers 4 layout (rope_theta, rope_scaling) and the
/// transformers 5 layout (rope_parameters).
/// </summary>
public sealed record LlamaConfig
{
    public string ModelType { get; init; } = "llama";
    public int VocabSize { get; init; } = 32000;
    public int HiddenSize { get; init; } = 4096;
    public int IntermediateSize { get; init; } = 11008;
    public int NumHiddenLayers { get; init; } = 32;
    public int NumAttentionHeads { get; init; } = 32;
    public int NumKeyValueHeads { get; init; } = 32;
    public int HeadDim { get; init; } = 128;
    public int MaxPositionEmbeddings { get; init; } = 2048;
    public double RmsNormEps { get; init; } = 1e-6;
    public double RopeTheta { get; init; } = 10000.0;
    public RopeScaling? RopeScaling { get; init; }
    public bool AttentionBias { get; init; }
    public bool MlpBias { get; init; }
    public bool TieWordEmbeddings { get; init; }
    public string HiddenAct { get; init; } = "silu";
    /// <summary>The checkpoint's dtype as config.json names it ("float32", "bfloat16", "float16"), if stated.</summary>
    public string? TorchDtype { get; init; }
    public int? BosTokenId { get; init; }
    public IReadOnlyList<int> EosTokenIds { get; init; } = Array.Empty<int>();
    public int? PadTokenId { get; init; }
    /// <summary>How the Linear weights are (to be) quantized, as config.json's quantization_config; null = dense.</summary>
    public QuantizationConfig? Quantization { get; init; }

    public static readonly string[] SupportedModelTypes = { "llama", "qwen2", "mistral" };

    /// <summary>
    /// Reads config.json: <see cref="InvalidFileFormatException"/> for malformed JSON or a value of the wrong type,
    /// <see cref="ConfigurationException"/> for a value outside what the model supports.
    /// </summary>
    public static LlamaConfig FromFile(string path) => FromJson(JsonReading.FromFile(path));

    public static LlamaConfig FromJson(JsonReading j)
    {
        string modelType = j.String("model_type") ?? "llama";
        if (!SupportedModelTypes.Contains(modelType))
            throw new ConfigurationException(
                $"{j.Source}: model_type '{modelType}' is not a Llama-family decoder this version loads " +
                $"(supported: {string.Join(", ", SupportedModelTypes)})");
        int vocab = j.RequireInt("vocab_size");
        int hidden = j.RequireInt("hidden_size");
        int heads = j.RequireInt("num_attention_heads");
        var rope = j.Object("rope_parameters");
        var scaling = j.Object("rope_scaling") ?? rope;
        var cfg = new LlamaConfig
        {
            ModelType = modelType,
            VocabSize = vocab,
            HiddenSize = hidden,
            IntermediateSize = j.RequireInt("intermediate_size"),
            NumHiddenLayers = j.RequireInt("num_hidden_layers"),
            NumAttentionHeads = heads,
            NumKeyValueHeads = j.Int("num_key_value_heads", heads),
            HeadDim = j.Int("head_dim", heads > 0 ? hidden / heads : 0),
            MaxPositionEmbeddings = j.Int("max_position_embeddings", 2048),
            RmsNormEps = j.Double("rms_norm_eps", 1e-6),
            RopeTheta = rope?.Double("rope_theta", 0) is > 0 and var t ? t : j.Double("rope_theta", 10000.0),
            RopeScaling = ReadScaling(scaling),
            // Qwen2 always has q/k/v biases; its config does not say so.
            AttentionBias = j.Bool("attention_bias", modelType == "qwen2"),
            MlpBias = j.Bool("mlp_bias", false),
            TieWordEmbeddings = j.Bool("tie_word_embeddings", false),
            HiddenAct = j.String("hidden_act") ?? "silu",
            TorchDtype = j.String("torch_dtype") ?? j.String("dtype"),
            BosTokenId = j.Has("bos_token_id") ? j.Ints("bos_token_id").FirstOrDefault() : null,
            EosTokenIds = j.Ints("eos_token_id"),
            PadTokenId = j.Has("pad_token_id") ? j.Ints("pad_token_id").FirstOrDefault() : null,
            Quantization = QuantizationConfig.FromJson(j.Object("quantization_config")),
        };
        cfg.Validate(j.Source);
        return cfg;
    }

    static RopeScaling? ReadScaling(JsonReading? s)
    {
        if (s is null) return null;
        var type = s.String("rope_type") ?? s.String("type") ?? "default";
        if (!RopeScaling.Supported.Contains(type))
            throw new ConfigurationException(
                $"{s.Source}: rope type '{type}' is not supported (supported: {string.Join(", ", RopeScaling.Supported)})");
        if (type == "default") return null;
        return new RopeScaling(type, s.Double("factor", 1.0), s.Double("low_freq_factor", 1.0),
            s.Double("high_freq_factor", 4.0), s.Int("original_max_position_embeddings", 8192));
    }

    public void Validate(string source = "config")
    {
        void Positive(int v, string name)
        {
            if (v <= 0) throw new ConfigurationException($"{source}: '{name}' must be positive, found {v}");
        }
        Positive(VocabSize, "vocab_size");
        Positive(HiddenSize, "hidden_size");
        Positive(IntermediateSize, "intermediate_size");
        Positive(NumHiddenLayers, "num_hidden_layers");
        Positive(NumAttentionHeads, "num_attention_heads");
        Positive(NumKeyValueHeads, "num_key_value_heads");
        Positive(HeadDim, "head_dim");
        if (NumAttentionHeads % NumKeyValueHeads != 0)
            throw new ConfigurationException(
                $"{source}: num_attention_heads ({NumAttentionHeads}) must be a multiple of num_key_value_heads ({NumKeyValueHeads})");
        if (HeadDim % 2 != 0) throw new ConfigurationException($"{source}: head_dim must be even for rotary embeddings, found {HeadDim}");
        if (HiddenAct is not ("silu" or "swish"))
            throw new ConfigurationException($"{source}: hidden_act '{HiddenAct}' is not supported (the Llama family uses silu)");
    }

    /// <summary>config.json as transformers 4 writes it, which both transformers 4 and 5 read.</summary>
    public JsonObject ToJson()
    {
        var o = new JsonObject
        {
            ["architectures"] = new JsonArray(ModelType switch { "qwen2" => "Qwen2ForCausalLM", "mistral" => "MistralForCausalLM", _ => "LlamaForCausalLM" }),
            ["model_type"] = ModelType,
            ["vocab_size"] = VocabSize,
            ["hidden_size"] = HiddenSize,
            ["intermediate_size"] = IntermediateSize,
            ["num_hidden_layers"] = NumHiddenLayers,
            ["num_attention_heads"] = NumAttentionHeads,
            ["num_key_value_heads"] = NumKeyValueHeads,
            ["head_dim"] = HeadDim,
            ["max_position_embeddings"] = MaxPositionEmbeddings,
            ["rms_norm_eps"] = RmsNormEps,
            ["rope_theta"] = RopeTheta,
            ["attention_bias"] = AttentionBias,
            ["mlp_bias"] = MlpBias,
            ["tie_word_embeddings"] = TieWordEmbeddings,
            ["hidden_act"] = HiddenAct,
            ["torch_dtype"] = TorchDtype ?? "float32",
        };
        if (RopeScaling is { } s)
            o["rope_scaling"] = new JsonObject
            {
                ["rope_type"] = s.Type,
                ["factor"] = s.Factor,
                ["low_freq_factor"] = s.LowFreqFactor,
                ["high_freq_factor"] = s.HighFreqFactor,
                ["original_max_position_embeddings"] = s.OriginalMaxPositionEmbeddings,
            };
        if (BosTokenId is { } b) o["bos_token_id"] = b;
        if (EosTokenIds.Count == 1) o["eos_token_id"] = EosTokenIds[0];
        else if (EosTokenIds.Count > 1) o["eos_token_id"] = new JsonArray(EosTokenIds.Select(e => (JsonNode)e).ToArray());
        if (PadTokenId is { } p) o["pad_token_id"] = p;
        if (Quantization is { Enabled: true } q) o["quantization_config"] = q.ToJson();
        return o;
    }
}
