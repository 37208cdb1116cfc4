using System.Text.Json.Nodes;

namespace PeftSharp.Nn.Quantized;

/// <summary>
/// How base weights are quantized on load, with transformers' BitsAndBytesConfig names and defaults
/// (so quant type defaults to fp4 and compute dtype to float32, as there; QLoRA recipes set nf4, double quant, bf16).
/// </summary>
public sealed record QuantizationConfig
{
    /// <summary>
    /// load_in_4bit: store base Linear weights as NF4/FP4 (QLoRA). Exclusive with <see cref="LoadIn8Bit"/>; default
    /// false.
    /// </summary>
    public bool LoadIn4Bit { get; init; }
    /// <summary>
    /// load_in_8bit: store base Linear weights as LLM.int8. Exclusive with <see cref="LoadIn4Bit"/>; default false.
    /// </summary>
    public bool LoadIn8Bit { get; init; }
    /// <summary>"nf4" or "fp4".</summary>
    public string Bnb4BitQuantType { get; init; } = "fp4";
    /// <summary>
    /// bnb_4bit_use_double_quant: quantize the per-block absmax values too (about 0.37 bits per parameter saved);
    /// default false.
    /// </summary>
    public bool Bnb4BitUseDoubleQuant { get; init; }
    /// <summary>"float32" or "bfloat16": the dtype 4-bit weights are dequantized into for the matmul.</summary>
    public string Bnb4BitComputeDtype { get; init; } = "float32";
    /// <summary>
    /// Elements per 4-bit absmax block: a power of two from 32 to 4096; default 64 (bitsandbytes' blocksize).
    /// </summary>
    public int Bnb4BitBlockSize { get; init; } = 64;
    /// <summary>
    /// llm_int8_threshold: LLM.int8's outlier threshold; input columns with |x| above it are multiplied in floating
    /// point. At least 0; default 6.0.
    /// </summary>
    public double LlmInt8Threshold { get; init; } = 6.0;
    /// <summary>Linear layers kept dense (matched as a name suffix); the output head always is.</summary>
    public IReadOnlyList<string> LlmInt8SkipModules { get; init; } = Array.Empty<string>();

    /// <summary>True when either 4-bit or 8-bit loading is on.</summary>
    public bool Enabled => LoadIn4Bit || LoadIn8Bit;

    /// <summary>Checks the settings and returns this config.</summary>
    /// <exception cref="ConfigurationException">Both 4- and 8-bit are on, the quant type is not nf4/fp4, the compute dtype not float32/bfloat16, the block size not a power of two in [32, 4096], or the threshold negative or NaN.</exception>
    public QuantizationConfig Validate()
    {
        if (LoadIn4Bit && LoadIn8Bit) throw new ConfigurationException("load_in_4bit and load_in_8bit are exclusive: choose one");
        if (Bnb4BitQuantType is not ("nf4" or "fp4")) throw new ConfigurationException($"bnb_4bit_quant_type must be nf4 or fp4, found '{Bnb4BitQuantType}'");
        if (Bnb4BitComputeDtype is not ("float32" or "bfloat16"))
            throw new ConfigurationException($"bnb_4bit_compute_dtype must be float32 or bfloat16 on CPU, found '{Bnb4BitComputeDtype}'");
        int b = Bnb4BitBlockSize;
        if (b < 32 || b > 4096 || (b & (b - 1)) != 0) throw new ConfigurationException($"4-bit block size must be a power of two from 32 to 4096, found {b}");
        if (double.IsNaN(LlmInt8Threshold) || LlmInt8Threshold < 0) throw new ConfigurationException($"llm_int8_threshold must be >= 0, found {LlmInt8Threshold}");
        return this;
    }

    /// <summary>Reads config.json's quantization_config (transformers' to_dict layout).</summary>
    public static QuantizationConfig? FromJson(JsonReading? j)
    {
        if (j is null) return null;
        var method = j.String("quant_method") ?? "bitsandbytes";
        if (method != "bitsandbytes")
            throw new ConfigurationException($"{j.Source}: quant_method '{method}' is not supported (bitsandbytes 4-bit and 8-bit are)");
        return new QuantizationConfig
        {
            LoadIn4Bit = j.Bool("load_in_4bit", false),
            LoadIn8Bit = j.Bool("load_in_8bit", false),
            Bnb4BitQuantType = j.String("bnb_4bit_quant_type") ?? "fp4",
            Bnb4BitUseDoubleQuant = j.Bool("bnb_4bit_use_double_quant", false),
            Bnb4BitComputeDtype = j.String("bnb_4bit_compute_dtype") ?? "float32",
            LlmInt8Threshold = j.Double("llm_int8_threshold", 6.0),
        }.Validate();
    }

    /// <summary>
    /// config.json's quantization_config in transformers' BitsAndBytesConfig.to_dict layout (quant_method bitsandbytes,
    /// uint8 storage), so a saved quantized model loads in transformers.
    /// </summary>
    public JsonObject ToJson() => new()
    {
        ["quant_method"] = "bitsandbytes",
        ["load_in_4bit"] = LoadIn4Bit,
        ["load_in_8bit"] = LoadIn8Bit,
        ["bnb_4bit_quant_type"] = Bnb4BitQuantType,
        ["bnb_4bit_use_double_quant"] = Bnb4BitUseDoubleQuant,
        ["bnb_4bit_compute_dtype"] = Bnb4BitComputeDtype,
        ["bnb_4bit_quant_storage"] = "uint8",
        ["llm_int8_threshold"] = LlmInt8Threshold,
        ["llm_int8_skip_modules"] = LlmInt8SkipModules.Count == 0 ? null : new JsonArray(LlmInt8SkipModules.Select(s => (JsonNode)s!).ToArray()),
        ["llm_int8_has_fp16_weight"] = false,
    };

    /// <summary>Whether the Linear at <paramref name="path"/> is quantized: all but the output head and skipped modules.</summary>
    public bool Quantizes(string path, string outputHead = "lm_head") =>
        Enabled && path != outputHead && !path.EndsWith("." + outputHead, StringComparison.Ordinal)
        && !LlmInt8SkipModules.Any(s => path == s || path.EndsWith("." + s, StringComparison.Ordinal));
}
