namespace PeftSharp.IO.HuggingFace;

/// <summary>The decoding defaults a model folder ships in generation_config.json (HF field names).</summary>
public sealed record GenerationConfig
{
    /// <summary>bos_token_id; null when absent (the first id when the file gives a list).</summary>
    public int? BosTokenId { get; init; }
    /// <summary>
    /// eos_token_id as a list (HF allows one id or a list, e.g. Llama-3-Instruct's &lt;|end_of_text|&gt; and
    /// &lt;|eot_id|&gt;); generation stops at any of them. Empty when absent.
    /// </summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = Array.Empty<int>();
    /// <summary>pad_token_id; null when absent.</summary>
    public int? PadTokenId { get; init; }
    /// <summary>do_sample: sample (true) or decode greedily (false, the HF default when absent).</summary>
    public bool DoSample { get; init; }
    /// <summary>temperature, the softmax temperature for sampling (HF default 1.0); null when absent.</summary>
    public double? Temperature { get; init; }
    /// <summary>top_k: sample among the k most likely tokens (HF default 50); null when absent.</summary>
    public int? TopK { get; init; }
    /// <summary>
    /// top_p: nucleus sampling's cumulative-probability cut, in (0, 1] (HF default 1.0); null when absent.
    /// </summary>
    public double? TopP { get; init; }
    /// <summary>repetition_penalty (CTRL-style; 1.0 means none); null when absent.</summary>
    public double? RepetitionPenalty { get; init; }
    /// <summary>max_new_tokens, the default generation length in tokens; null when absent.</summary>
    public int? MaxNewTokens { get; init; }

    /// <summary>Reads <c>folder/generation_config.json</c>; null when the file does not exist.</summary>
    /// <exception cref="InvalidFileFormatException">The file is not valid JSON or a field has the wrong type.</exception>
    public static GenerationConfig? FromFolder(string folder)
    {
        var path = Path.Combine(folder, "generation_config.json");
        if (!File.Exists(path)) return null;
        var j = JsonReading.FromFile(path);
        return new GenerationConfig
        {
            BosTokenId = j.Has("bos_token_id") ? j.Ints("bos_token_id").FirstOrDefault() : null,
            EosTokenIds = j.Ints("eos_token_id"),
            PadTokenId = j.Has("pad_token_id") ? j.Ints("pad_token_id").FirstOrDefault() : null,
            DoSample = j.Bool("do_sample", false),
            Temperature = j.Has("temperature") ? j.Double("temperature", 1) : null,
            TopK = j.Has("top_k") ? j.RequireInt("top_k") : null,
            TopP = j.Has("top_p") ? j.Double("top_p", 1) : null,
            RepetitionPenalty = j.Has("repetition_penalty") ? j.Double("repetition_penalty", 1) : null,
            MaxNewTokens = j.Has("max_new_tokens") ? j.RequireInt("max_new_tokens") : null,
        };
    }
}
