using PeftSharp.IO.Gguf;
using PeftSharp.Nn;
using PeftSharp.Tokenization;
using static TorchSharp.torch;

namespace PeftSharp.Models.Llama;

/// <summary>
/// Writes a Llama-family causal LM as a GGUF file llama.cpp (and Ollama) load: the hyperparameters and tokenizer
/// under llama.cpp's keys, the weights under its tensor names with q/k rows permuted for its rotary layout, each
/// tensor converted and written one at a time.
/// </summary>
public static class LlamaGgufExport
{
    /// <summary>Writes <paramref name="model"/> with <paramref name="tokenizer"/> to <paramref name="path"/> (atomically).</summary>
    /// <param name="model">A dense model; merge adapters into it first.</param>
    /// <param name="tokenizer">Its tokenizer (llama.cpp cannot run a GGUF without one).</param>
    /// <param name="path">The .gguf file to write.</param>
    /// <param name="fileType">Tensor encoding: f32, f16, bf16 or q8_0 (norms and vectors always f32).</param>
    /// <param name="name">general.name.</param>
    /// <param name="chatTemplate">tokenizer.chat_template, when the model has one.</param>
    /// <exception cref="ConfigurationException">The model has quantized Linears or a rope scaling llama.cpp's converter does not express, or the tokenizer has no GGUF form.</exception>
    public static void Write(LlamaForCausalLM model, ITextTokenizer tokenizer, string path, GgufFileType fileType, string name, string? chatTemplate = null)
    {
        var md = Metadata(model.Config, name, fileType);
        GgufVocabulary.AddTo(md, tokenizer, model.Config.VocabSize, chatTemplate);
        GgufWriter.Write(path, md, Tensors(model, fileType));
    }

    /// <summary>general.* and the architecture's hyperparameter keys for <paramref name="c"/>.</summary>
    public static GgufMetadata Metadata(LlamaConfig c, string name, GgufFileType fileType)
    {
        var arch = LlamaGgufNames.Architecture(c);
        var md = new GgufMetadata()
            .String("general.architecture", arch)
            .String("general.type", "model")
            .String("general.name", name)
            .UInt32("general.file_type", (uint)fileType)
            .UInt32("general.quantization_version", 2)
            .UInt32($"{arch}.vocab_size", (uint)c.VocabSize)
            .UInt32($"{arch}.context_length", (uint)c.MaxPositionEmbeddings)
            .UInt32($"{arch}.embedding_length", (uint)c.HiddenSize)
            .UInt32($"{arch}.feed_forward_length", (uint)c.IntermediateSize)
            .UInt32($"{arch}.block_count", (uint)c.NumHiddenLayers)
            .UInt32($"{arch}.attention.head_count", (uint)c.NumAttentionHeads)
            .UInt32($"{arch}.attention.head_count_kv", (uint)c.NumKeyValueHeads)
            .Float32($"{arch}.attention.layer_norm_rms_epsilon", (float)c.RmsNormEps)
            .Float32($"{arch}.rope.freq_base", (float)c.RopeTheta)
            .UInt32($"{arch}.rope.dimension_count", (uint)c.HeadDim);
        // llama.cpp assumes head_dim = hidden / heads unless told otherwise.
        if (c.HeadDim * c.NumAttentionHeads != c.HiddenSize)
            md.UInt32($"{arch}.attention.key_length", (uint)c.HeadDim).UInt32($"{arch}.attention.value_length", (uint)c.HeadDim);
        if (c.RopeScaling is { Type: "linear" } s)
            md.String($"{arch}.rope.scaling.type", "linear").Float32($"{arch}.rope.scaling.factor", (float)s.Factor);
        return md;
    }

    /// <summary>
    /// The model's tensors under llama.cpp's names in checkpoint order (output.weight only when untied, plus
    /// rope_freqs.weight for Llama-3 rope scaling), each produced lazily from the live weights.
    /// </summary>
    /// <exception cref="ConfigurationException">A Linear is quantized (load the base dense to export).</exception>
    public static List<GgufTensor> Tensors(LlamaForCausalLM model, GgufFileType fileType)
    {
        var c = model.Config;
        if (model.named_modules().FirstOrDefault(m => m.module is Linear { Quantized: not null }) is { module: not null } q)
            throw new ConfigurationException(
                $"{q.name} is quantized (the model was loaded in 4/8 bits): GGUF export needs dense weights; load the model without --load-in-4bit/--load-in-8bit " +
                "(merging an adapter into quantized weights would round it away)");
        var tensors = new List<GgufTensor>();
        foreach (var (key, weight) in model.state_dict())
        {
            if (model.TiedKeys.Contains(key)) continue;
            var name = LlamaGgufNames.TensorName(key);
            var heads = LlamaGgufNames.PermuteHeads(c, key);
            var type = GgufFileTypes.TensorType(fileType, name, weight.shape);
            tensors.Add(GgufTensorEncoder.Lazy(name, weight.shape, type,
                () => heads is int h ? LlamaGgufNames.HalvesToPairs(weight.detach(), h) : weight.detach()));
        }
        if (c.RopeScaling is { Type: "llama3" } s)
        {
            var factors = Llama3RopeFactors(c.HeadDim, c.RopeTheta, s);
            tensors.Add(GgufTensorEncoder.Lazy("rope_freqs.weight", [factors.Length], GgufTensorType.F32, () => tensor(factors)));
        }
        else if (c.RopeScaling is { Type: not "linear" } other)
            throw new ConfigurationException($"rope scaling '{other.Type}' has no llama.cpp form here: export supports none, linear and llama3");
        return tensors;
    }

    /// <summary>
    /// Llama-3 rope scaling as llama.cpp takes it: per frequency, the divisor of the unscaled frequency (1 for high
    /// frequencies, factor for low ones, smooth between), the same scaling <see cref="RotaryEmbedding"/> applies.
    /// </summary>
    public static float[] Llama3RopeFactors(int headDim, double theta, RopeScaling s)
    {
        var factors = new float[headDim / 2];
        for (int i = 0; i < factors.Length; i++)
        {
            double f = 1.0 / Math.Pow(theta, 2.0 * i / headDim);
            factors[i] = (float)(f / RotaryEmbedding.Llama3Scale(f, s.Factor, s.LowFreqFactor, s.HighFreqFactor, s.OriginalMaxPositionEmbeddings));
        }
        return factors;
    }
}
