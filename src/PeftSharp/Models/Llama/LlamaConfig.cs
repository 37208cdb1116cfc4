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
    /// <summary>
    /// config.json's model_type: "llama" (default), "qwen2" or "mistral" (see <see cref="SupportedModelTypes"/>).
    /// </summary>
    public string ModelType { get; init; } = "llama";
    /// <summary>
    /// Number of token ids (vocab_size): rows of the embedding table and outputs of lm_head. Default 32000 (Llama 2).
    /// </summary>
    public int VocabSize { get; init; } = 32000;
    /// <summary>Width of the residual stream (hidden_size). Default 4096 (Llama 2 7B).</summary>
    public int HiddenSize { get; init; } = 4096;
    /// <summary>Width of the SwiGLU feed-forward (intermediate_size). Default 11008 (Llama 2 7B).</summary>
    public int IntermediateSize { get; init; } = 11008;
    /// <summary>Number of decoder layers (num_hidden_layers). Default 32.</summary>
    public int NumHiddenLayers { get; init; } = 32;
    /// <summary>Number of query heads (num_attention_heads). Default 32.</summary>
    public int NumAttentionHeads { get; init; } = 32;
    /// <summary>
    /// Number of key/value heads (num_key_value_heads); must divide <see cref="NumAttentionHeads"/>. config.json
    /// default: the number of query heads (no grouping).
    /// </summary>
    public int NumKeyValueHeads { get; init; } = 32;
    /// <summary>
    /// Width of one attention head (head_dim), even; config.json default hidden_size / num_attention_heads.
    /// </summary>
    public int HeadDim { get; init; } = 128;
    /// <summary>
    /// Longest context the model was trained for (max_position_embeddings); informational, positions beyond it still
    /// run. Default 2048.
    /// </summary>
    public int MaxPositionEmbeddings { get; init; } = 2048;
    /// <summary>Epsilon added to the mean square in RMSNorm (rms_norm_eps). Default 1e-6.</summary>
    public double RmsNormEps { get; init; } = 1e-6;
    /// <summary>
    /// Base of the rotary position frequencies (rope_theta, or rope_parameters.rope_theta in transformers 5). Default
    /// 10000.
    /// </summary>
    public double RopeTheta { get; init; } = 10000.0;
    /// <summary>RoPE frequency scaling (rope_scaling: linear or llama3); null for plain RoPE.</summary>
    public RopeScaling? RopeScaling { get; init; }
    /// <summary>
    /// Whether q/k/v projections have biases (attention_bias); default false, true for Qwen2 whose configs omit it.
    /// </summary>
    public bool AttentionBias { get; init; }
    /// <summary>Whether the feed-forward projections have biases (mlp_bias). Default false.</summary>
    public bool MlpBias { get; init; }
    /// <summary>
    /// Whether lm_head shares the embedding matrix (tie_word_embeddings, as in small models such as SmolLM). Default
    /// false.
    /// </summary>
    public bool TieWordEmbeddings { get; init; }
    /// <summary>
    /// The feed-forward activation (hidden_act); only "silu" (default) and its alias "swish" are supported.
    /// </summary>
    public string HiddenAct { get; init; } = "silu";
    /// <summary>The checkpoint's dtype as config.json names it ("float32", "bfloat16", "float16"), if stated.</summary>
    public string? TorchDtype { get; init; }
    /// <summary>
    /// Beginning-of-sequence token id (bos_token_id), or null when config.json has none (the first id if it holds a
    /// list).
    /// </summary>
    public int? BosTokenId { get; init; }
    /// <summary>
    /// End-of-sequence token ids (eos_token_id, an int or a list, as Llama 3 uses); generation stops at any. Empty when
    /// unstated.
    /// </summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = Array.Empty<int>();
    /// <summary>
    /// Padding token id (pad_token_id), or null; the sequence classifier needs it to batch rows without an attention
    /// mask.
    /// </summary>
    public int? PadTokenId { get; init; }
    /// <summary>How the Linear weights are (to be) quantized, as config.json's quantization_config; null = dense.</summary>
    public QuantizationConfig? Quantization { get; init; }

    /// <summary>
    /// The model_type values this decoder implements: llama, qwen2, mistral (Mistral without sliding-window attention).
    /// </summary>
    public static readonly string[] SupportedModelTypes = { "llama", "qwen2", "mistral" };

    /// <summary>
    /// Reads config.json: <see cref="InvalidFileFormatException"/> for malformed JSON or a value of the wrong type,
    /// <see cref="ConfigurationException"/> for a value outside what the model supports.
    /// </summary>
    public static LlamaConfig FromFile(string path) => FromJson(JsonReading.FromFile(path));

    /// <summary>
    /// Reads a parsed config.json (see <see cref="FromFile"/>), applying transformers' defaults for absent fields, then
    /// <see cref="Validate"/>.
    /// </summary>
    /// <exception cref="InvalidFileFormatException">A required field is missing or a value has the wrong JSON
    /// type.</exception>
    /// <exception cref="ConfigurationException">The model type, rope type or activation is unsupported, or a size is
    /// invalid.</exception>
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

    /// <summary>
    /// Checks that the sizes can build a model: all positive, heads a multiple of KV heads, even head_dim, a SiLU
    /// activation.
    /// </summary>
    /// <param name="source">Names the config in messages (a path); default "config".</param>
    /// <exception cref="ConfigurationException">A check fails; the message names the config.json field.</exception>
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
