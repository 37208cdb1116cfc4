using System.Text.Json.Nodes;
using PeftSharp.Nn.Quantized;

namespace PeftSharp.Models.Whisper;

/// <summary>
/// Whisper's encoder-decoder configuration with HF's config.json field names (openai/whisper-tiny .. large-v3-turbo).
/// Dropout and layerdrop fields are not read: this implementation runs without dropout (Whisper's checkpoints use 0).
/// </summary>
public sealed record WhisperConfig
{
    /// <summary>
    /// Number of token ids (vocab_size): 51865 for multilingual checkpoints (default), 51864 English-only, 51866
    /// large-v3.
    /// </summary>
    public int VocabSize { get; init; } = 51865;
    /// <summary>Mel filters of the input features (num_mel_bins): 80 (default), 128 for large-v3.</summary>
    public int NumMelBins { get; init; } = 80;
    /// <summary>Model width (d_model); default 384 (whisper-tiny).</summary>
    public int DModel { get; init; } = 384;
    /// <summary>Number of encoder layers (encoder_layers); default 4 (whisper-tiny).</summary>
    public int EncoderLayers { get; init; } = 4;
    /// <summary>Number of decoder layers (decoder_layers); default 4 (whisper-tiny).</summary>
    public int DecoderLayers { get; init; } = 4;
    /// <summary>Encoder attention heads (encoder_attention_heads); must divide d_model. Default 6.</summary>
    public int EncoderAttentionHeads { get; init; } = 6;
    /// <summary>Decoder attention heads (decoder_attention_heads); must divide d_model. Default 6.</summary>
    public int DecoderAttentionHeads { get; init; } = 6;
    /// <summary>Width of the encoder feed-forward (encoder_ffn_dim), usually 4 x d_model; default 1536.</summary>
    public int EncoderFfnDim { get; init; } = 1536;
    /// <summary>Width of the decoder feed-forward (decoder_ffn_dim), usually 4 x d_model; default 1536.</summary>
    public int DecoderFfnDim { get; init; } = 1536;
    /// <summary>Encoder positions after the stride-2 convolution: 1500 for 30 s of audio (3000 mel frames).</summary>
    public int MaxSourcePositions { get; init; } = 1500;
    /// <summary>Decoder positions: the longest token sequence, forced prefix included.</summary>
    public int MaxTargetPositions { get; init; } = 448;
    /// <summary>Padding id (pad_token_id); 50257, end of text, in released checkpoints.</summary>
    public int PadTokenId { get; init; } = 50257;
    /// <summary>
    /// bos_token_id as config.json states it (50257, &lt;|endoftext|&gt;); decoding starts from <see
    /// cref="DecoderStartTokenId"/> instead.
    /// </summary>
    public int BosTokenId { get; init; } = 50257;
    /// <summary>End-of-text id (eos_token_id; the first when it is a list); default 50257.</summary>
    public int EosTokenId { get; init; } = 50257;
    /// <summary>
    /// The id decoding starts with, &lt;|startoftranscript|&gt; (decoder_start_token_id); default 50258.
    /// </summary>
    public int DecoderStartTokenId { get; init; } = 50258;
    /// <summary>
    /// Feed-forward activation (activation_function); only "gelu" (the default, exact erf form) is supported.
    /// </summary>
    public string ActivationFunction { get; init; } = "gelu";
    /// <summary>Multiply token embeddings by sqrt(d_model) (false in every released Whisper checkpoint).</summary>
    public bool ScaleEmbedding { get; init; }
    /// <summary>
    /// Whether proj_out shares the decoder's token embeddings (tie_word_embeddings); default true, as in every
    /// checkpoint.
    /// </summary>
    public bool TieWordEmbeddings { get; init; } = true;
    /// <summary>Ids suppressed at every decoding step; null when config.json does not list them.</summary>
    public IReadOnlyList<int>? SuppressTokens { get; init; }
    /// <summary>Ids suppressed at the first sampled step (HF: [220, eot]); null when config.json does not list them.</summary>
    public IReadOnlyList<int>? BeginSuppressTokens { get; init; }
    /// <summary>
    /// The checkpoint's dtype as config.json names it (torch_dtype, or dtype in transformers 5), if stated.
    /// </summary>
    public string? TorchDtype { get; init; }
    /// <summary>
    /// How the Linear weights are (to be) quantized, as config.json's quantization_config; null = dense.
    /// </summary>
    public QuantizationConfig? Quantization { get; init; }

    /// <summary>Mel frames the encoder takes: two per encoder position (conv2 has stride 2), 3000 for 30 s.</summary>
    public int InputFrames => 2 * MaxSourcePositions;

    /// <summary>The activation_function values implemented: "gelu".</summary>
    public static readonly string[] SupportedActivations = { "gelu" };

    /// <summary>
    /// Reads config.json: <see cref="InvalidFileFormatException"/> for malformed JSON or a value of the wrong type,
    /// <see cref="ConfigurationException"/> for a value outside what the model supports.
    /// </summary>
    public static WhisperConfig FromFile(string path) => FromJson(JsonReading.FromFile(path));

    /// <summary>
    /// Reads a parsed config.json (see <see cref="FromFile"/>), applying transformers' defaults for absent optional
    /// fields, then <see cref="Validate"/>.
    /// </summary>
    /// <exception cref="InvalidFileFormatException">A required field is missing or a value has the wrong JSON
    /// type.</exception>
    /// <exception cref="ConfigurationException">model_type is not "whisper", or a value is unsupported.</exception>
    public static WhisperConfig FromJson(JsonReading j)
    {
        string modelType = j.String("model_type") ?? "whisper";
        if (modelType != "whisper")
            throw new ConfigurationException(
                $"{j.Source}: model_type '{modelType}' is not 'whisper': load it with the matching model class (Llama-family decoders load with PretrainedCausalLM)");
        var cfg = new WhisperConfig
        {
            VocabSize = j.RequireInt("vocab_size"),
            NumMelBins = j.Int("num_mel_bins", 80),
            DModel = j.RequireInt("d_model"),
            EncoderLayers = j.RequireInt("encoder_layers"),
            DecoderLayers = j.RequireInt("decoder_layers"),
            EncoderAttentionHeads = j.RequireInt("encoder_attention_heads"),
            DecoderAttentionHeads = j.RequireInt("decoder_attention_heads"),
            EncoderFfnDim = j.RequireInt("encoder_ffn_dim"),
            DecoderFfnDim = j.RequireInt("decoder_ffn_dim"),
            MaxSourcePositions = j.Int("max_source_positions", 1500),
            MaxTargetPositions = j.Int("max_target_positions", 448),
            PadTokenId = j.Int("pad_token_id", 50257),
            BosTokenId = j.Int("bos_token_id", 50257),
            EosTokenId = j.Ints("eos_token_id") switch
            {
                [] when j.Has("eos_token_id") => throw new InvalidFileFormatException(j.Source, "'eos_token_id' is an empty list; give the end-of-text id (50257 in every Whisper checkpoint)"),
                [] => 50257,
                [var eos, ..] => eos,
            },
            DecoderStartTokenId = j.Int("decoder_start_token_id", 50258),
            ActivationFunction = j.String("activation_function") ?? "gelu",
            ScaleEmbedding = j.Bool("scale_embedding", false),
            TieWordEmbeddings = j.Bool("tie_word_embeddings", true),
            SuppressTokens = j.Has("suppress_tokens") ? j.Ints("suppress_tokens") : null,
            BeginSuppressTokens = j.Has("begin_suppress_tokens") ? j.Ints("begin_suppress_tokens") : null,
            TorchDtype = j.String("torch_dtype") ?? j.String("dtype"),
            Quantization = QuantizationConfig.FromJson(j.Object("quantization_config")),
        };
        cfg.Validate(j.Source);
        return cfg;
    }

    /// <summary>
    /// Checks that the sizes can build a model: positive sizes, d_model divisible by both head counts, a supported
    /// activation.
    /// </summary>
    /// <param name="source">Names the config in messages (a path); default "config".</param>
    /// <exception cref="ConfigurationException">A check fails; the message names the config.json field and the
    /// fix.</exception>
    public void Validate(string source = "config")
    {
        void Positive(int v, string name)
        {
            if (v <= 0) throw new ConfigurationException($"{source}: '{name}' must be a positive integer, found {v}: fix it in config.json");
        }
        Positive(VocabSize, "vocab_size");
        Positive(NumMelBins, "num_mel_bins");
        Positive(DModel, "d_model");
        Positive(EncoderLayers, "encoder_layers");
        Positive(DecoderLayers, "decoder_layers");
        Positive(EncoderAttentionHeads, "encoder_attention_heads");
        Positive(DecoderAttentionHeads, "decoder_attention_heads");
        Positive(EncoderFfnDim, "encoder_ffn_dim");
        Positive(DecoderFfnDim, "decoder_ffn_dim");
        Positive(MaxSourcePositions, "max_source_positions");
        Positive(MaxTargetPositions, "max_target_positions");
        foreach (var (heads, name) in new[] { (EncoderAttentionHeads, "encoder_attention_heads"), (DecoderAttentionHeads, "decoder_attention_heads") })
            if (DModel % heads != 0)
                throw new ConfigurationException($"{source}: d_model ({DModel}) must be divisible by {name} ({heads}): fix one of them in config.json");
        if (DModel / 2 < 2)
            throw new ConfigurationException($"{source}: d_model ({DModel}) is too small for sinusoidal positions (needs at least 4)");
        if (!SupportedActivations.Contains(ActivationFunction))
            throw new ConfigurationException(
                $"{source}: activation_function '{ActivationFunction}' is not supported (Whisper uses {string.Join(", ", SupportedActivations)}): set activation_function to \"gelu\"");
        foreach (var (id, name) in new[] { (PadTokenId, "pad_token_id"), (BosTokenId, "bos_token_id"), (EosTokenId, "eos_token_id"), (DecoderStartTokenId, "decoder_start_token_id") })
            if (id < 0 || id >= VocabSize)
                throw new ConfigurationException($"{source}: '{name}' {id} is outside the vocabulary (vocab_size {VocabSize}): fix it in config.json");
    }

    /// <summary>config.json as transformers writes it for WhisperForConditionalGeneration.</summary>
    public JsonObject ToJson()
    {
        static JsonArray Ids(IEnumerable<int> ids) => new(ids.Select(i => (JsonNode)i).ToArray());
        var o = new JsonObject
        {
            ["architectures"] = new JsonArray("WhisperForConditionalGeneration"),
            ["model_type"] = "whisper",
            ["vocab_size"] = VocabSize,
            ["num_mel_bins"] = NumMelBins,
            ["d_model"] = DModel,
            ["encoder_layers"] = EncoderLayers,
            ["decoder_layers"] = DecoderLayers,
            ["encoder_attention_heads"] = EncoderAttentionHeads,
            ["decoder_attention_heads"] = DecoderAttentionHeads,
            ["encoder_ffn_dim"] = EncoderFfnDim,
            ["decoder_ffn_dim"] = DecoderFfnDim,
            ["max_source_positions"] = MaxSourcePositions,
            ["max_target_positions"] = MaxTargetPositions,
            ["pad_token_id"] = PadTokenId,
            ["bos_token_id"] = BosTokenId,
            ["eos_token_id"] = EosTokenId,
            ["decoder_start_token_id"] = DecoderStartTokenId,
            ["activation_function"] = ActivationFunction,
            ["scale_embedding"] = ScaleEmbedding,
            ["tie_word_embeddings"] = TieWordEmbeddings,
            ["is_encoder_decoder"] = true,
            ["torch_dtype"] = TorchDtype ?? "float32",
        };
        if (SuppressTokens is { } s) o["suppress_tokens"] = Ids(s);
        if (BeginSuppressTokens is { } b) o["begin_suppress_tokens"] = Ids(b);
        if (Quantization is { Enabled: true } q) o["quantization_config"] = q.ToJson();
        return o;
    }
}
