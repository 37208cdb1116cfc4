namespace PeftSharp.Adapters;

/// <summary>
/// The container names adapters register their tensors under on a host module (<c>q_proj.lora_A.&lt;adapter&gt;.weight</c>,
/// <c>k_proj.ia3_l.&lt;adapter&gt;</c>, <c>prompt_encoder.&lt;adapter&gt;.embedding.weight</c>): a parameter path is an adapter's
/// when one of its segments is one of these, and the next segment names the adapter. One entry per method's slots.
/// </summary>
public static class AdapterSlotNames
{
    /// <summary>
    /// Every slot name of every method; PeftKeys and the trainable-parameter rules use it to recognise adapter
    /// parameters.
    /// </summary>
    public static readonly IReadOnlySet<string> All = new HashSet<string>
    {
        "lora_A", "lora_B", "lora_magnitude_vector", "lora_embedding_A", "lora_embedding_B", // LoRA, DoRA
        "modules_to_save",                                                                 // full trainable copies
        "lora_E",                                                                          // AdaLoRA (with lora_A/B)
        "sora_gate",                                                                       // SoRA (with lora_A/B)
        "ia3_l",                                                                           // IA3
        "adapter_down", "adapter_up",                                                      // bottleneck adapters
        "prompt_encoder",                                                                  // prompt and prefix tuning
    };
}
