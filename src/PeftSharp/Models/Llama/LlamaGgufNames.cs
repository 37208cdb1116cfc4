using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace PeftSharp.Models.Llama;

/// <summary>
/// How a Llama-family checkpoint maps onto llama.cpp's GGUF tensors: the architecture name, the tensor names, and
/// the q/k row permutation llama.cpp's convert_hf_to_gguf.py applies for its "llama" architecture.
/// </summary>
public static partial class LlamaGgufNames
{
    /// <summary>llama.cpp's architecture for a model_type: "qwen2" for Qwen2, "llama" for Llama and Mistral (as the converter maps them).</summary>
    public static string Architecture(LlamaConfig c) => c.ModelType == "qwen2" ? "qwen2" : "llama";

    /// <summary>
    /// True when q_proj/k_proj rows are permuted on export: llama.cpp's "llama" architecture rotates interleaved pairs
    /// (GPT-J style), while HF checkpoints (and PeftSharp, which keeps HF's layout) rotate the two halves of each
    /// head; "qwen2" uses the halves layout (NEOX rope) and needs no permutation.
    /// </summary>
    public static bool PermutesQk(LlamaConfig c) => Architecture(c) == "llama";

    /// <summary>
    /// convert_hf_to_gguf.py's LlamaModel.permute: per head, rows [first half; second half] become interleaved pairs
    /// (row i of the first half, then row i of the second). Works on weights [rows, cols] and biases [rows].
    /// </summary>
    /// <param name="w">q_proj (heads = num_attention_heads) or k_proj (heads = num_key_value_heads) rows.</param>
    /// <param name="heads">Heads the rows split into.</param>
    public static Tensor HalvesToPairs(Tensor w, int heads)
    {
        var shape = w.shape;
        var split = new long[] { heads, 2, shape[0] / heads / 2 }.Concat(shape.Skip(1)).ToArray();
        return w.reshape(split).transpose(1, 2).reshape(shape);
    }

    /// <summary>The heads to permute a checkpoint key's rows by: q_proj by attention heads, k_proj by KV heads, else null.</summary>
    public static int? PermuteHeads(LlamaConfig c, string hfKey)
    {
        if (!PermutesQk(c)) return null;
        if (hfKey.Contains(".self_attn.q_proj.", StringComparison.Ordinal)) return c.NumAttentionHeads;
        if (hfKey.Contains(".self_attn.k_proj.", StringComparison.Ordinal)) return c.NumKeyValueHeads;
        return null;
    }

    static readonly Dictionary<string, string> LayerParts = new(StringComparer.Ordinal)
    {
        ["input_layernorm"] = "attn_norm",
        ["post_attention_layernorm"] = "ffn_norm",
        ["self_attn.q_proj"] = "attn_q",
        ["self_attn.k_proj"] = "attn_k",
        ["self_attn.v_proj"] = "attn_v",
        ["self_attn.o_proj"] = "attn_output",
        ["mlp.gate_proj"] = "ffn_gate",
        ["mlp.up_proj"] = "ffn_up",
        ["mlp.down_proj"] = "ffn_down",
    };

    [GeneratedRegex(@"^model\.layers\.(\d+)\.(.+)\.(weight|bias)$")]
    private static partial Regex LayerKey();

    /// <summary>
    /// llama.cpp's name for a checkpoint key: token_embd, output_norm, output, and blk.N.{attn_norm, attn_q, attn_k,
    /// attn_v, attn_output, ffn_norm, ffn_gate, ffn_up, ffn_down}, each with its .weight/.bias suffix.
    /// </summary>
    /// <exception cref="ConfigurationException">A key llama.cpp has no tensor for.</exception>
    public static string TensorName(string hfKey)
    {
        switch (hfKey)
        {
            case "model.embed_tokens.weight": return "token_embd.weight";
            case "model.norm.weight": return "output_norm.weight";
            case "lm_head.weight": return "output.weight";
        }
        var m = LayerKey().Match(hfKey);
        if (m.Success && LayerParts.TryGetValue(m.Groups[2].Value, out var part))
            return $"blk.{m.Groups[1].Value}.{part}.{m.Groups[3].Value}";
        throw new ConfigurationException($"checkpoint tensor '{hfKey}' has no llama.cpp counterpart: GGUF export covers the Llama decoder's tensors only");
    }
}
