using PeftSharp.Adapters.AdaLora;
using PeftSharp.Adapters.Bottleneck;
using PeftSharp.Adapters.Ia3;
using PeftSharp.Adapters.Lora;
using PeftSharp.Adapters.Sora;
using PeftSharp.Adapters.PrefixTuning;
using PeftSharp.Adapters.PromptTuning;

namespace PeftSharp.Adapters;

/// <summary>Reads any method's adapter_config.json by its peft_type: one line per method.</summary>
public static class AdapterConfigReader
{
    static readonly Dictionary<string, Func<JsonReading, List<string>, AdapterConfig>> Readers = new()
    {
        ["LORA"] = LoraConfig.FromJson,
        ["ADALORA"] = AdaLoraConfig.FromJson,
        ["IA3"] = Ia3Config.FromJson,
        ["SORA"] = SoraConfig.FromJson,
        ["BOTTLENECK"] = BottleneckConfig.FromJson,
        ["PROMPT_TUNING"] = PromptTuningConfig.FromJson,
        ["PREFIX_TUNING"] = PrefixTuningConfig.FromJson,
    };

    /// <summary>
    /// The peft_type values adapter_config.json may name: PEFT's LORA, ADALORA, IA3, PROMPT_TUNING, PREFIX_TUNING and
    /// our SORA, BOTTLENECK.
    /// </summary>
    public static IReadOnlyCollection<string> PeftTypes => Readers.Keys;

    /// <summary>
    /// The config in <paramref name="j"/>; keys the method does not use are added to <paramref name="ignored"/>. Throws
    /// <see cref="InvalidFileFormatException"/> for values of the wrong type, <see cref="ConfigurationException"/> for
    /// values out of range or an unknown peft_type.
    /// </summary>
    public static AdapterConfig FromJson(JsonReading j, List<string> ignored)
    {
        var peftType = j.String("peft_type") ?? "LORA";
        if (!Readers.TryGetValue(peftType, out var read))
            throw new ConfigurationException($"{j.Source}: peft_type '{peftType}' is not supported; this version reads {string.Join(", ", Readers.Keys)}");
        return read(j, ignored);
    }
}
