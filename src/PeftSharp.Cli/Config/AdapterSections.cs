using PeftSharp.Adapters;
using PeftSharp.Adapters.AdaLora;
using PeftSharp.Adapters.Lora;
using PeftSharp.Adapters.PrefixTuning;
using PeftSharp.Adapters.PromptTuning;

namespace PeftSharp.Cli.Config;

/// <summary>
/// `adapter: <name>` in the training YAML and the section each method reads its settings from (PEFT's field names):
/// one entry per method.
/// </summary>
internal static class AdapterSections
{
    static readonly Dictionary<string, (string Section, Func<ConfigSection, AdapterConfig> Read)> Readers = new()
    {
        ["lora"] = ("lora", ReadLora),
        ["qlora"] = ("lora", ReadLora), // LoRA on a 4-bit base (the quantization keys default to NF4 + double quantization)
        ["dora"] = ("lora", c => ReadLora(c) with { UseDora = true }),
        ["adalora"] = ("adalora", ReadAdaLora),
        ["ia3"] = ("ia3", MethodSections.ReadIa3),
        ["sora"] = ("sora", MethodSections.ReadSora),
        ["bottleneck"] = ("bottleneck", MethodSections.ReadBottleneck),
        ["prompt"] = ("prompt_tuning", ReadPromptTuning),
        ["prefix"] = ("prefix_tuning", ReadPrefixTuning),
    };

    public static IReadOnlyCollection<string> Names => Readers.Keys;

    /// <summary>The method's settings, checked; a section that belongs to another method is an error, not silently ignored.</summary>
    public static AdapterConfig? Read(string adapter, ConfigSection c)
    {
        var own = Readers.TryGetValue(adapter, out var entry) ? entry.Section : null;
        foreach (var section in Readers.Values.Select(r => r.Section).Distinct())
            if (section != own && c.Section(section) is not null)
            {
                var users = Readers.Where(r => r.Value.Section == section).Select(r => r.Key);
                throw c.Error(section, $"holds the settings of adapter: {string.Join(" / ", users)}, but adapter is '{adapter}': remove the section or change adapter");
            }
        return own is null ? null : entry.Read(c).Validate($"{c.Source} ({entry.Section} settings)");
    }

    /// <summary>target_modules from a section: a list, one regex string, or all-linear (also the default).</summary>
    public static (IReadOnlyList<string>? Names, string? Regex) Targets(IReadOnlyList<string>? targets, bool allLinearByDefault = true)
    {
        if ((targets is null && allLinearByDefault) || targets is [AdapterConfig.AllLinear]) return (null, AdapterConfig.AllLinear);
        if (targets is [var single] && single.IndexOfAny(new[] { '*', '(', '|', '\\', '[' }) >= 0) return (null, single);
        return (targets, null);
    }

    /// <summary>A `lora:` section with PEFT's names, or axolotl's flat lora_* keys.</summary>
    public static LoraConfig ReadLora(ConfigSection c)
    {
        var s = c.Section("lora");
        int? flatR = c.Int("lora_r");
        double? flatAlpha = c.Double("lora_alpha");
        double? flatDropout = c.Double("lora_dropout");
        var flatTargets = c.Strings("lora_target_modules");
        bool? targetLinear = c.Bool("lora_target_linear");
        IReadOnlyList<string>? targets = s?.Strings("target_modules") ?? flatTargets;
        string? regex;
        (targets, regex) = targetLinear == true ? (null, AdapterConfig.AllLinear) : Targets(targets);
        var cfg = new LoraConfig
        {
            R = s?.Int("r") ?? flatR ?? 8,
            LoraAlpha = s?.Double("lora_alpha") ?? flatAlpha ?? 16,
            LoraDropout = s?.Double("lora_dropout") ?? flatDropout ?? 0.05,
            TargetModules = targets,
            TargetRegex = regex,
            ExcludeModules = s?.Strings("exclude_modules"),
            UseDora = s?.Bool("use_dora") ?? c.Bool("lora_use_dora") ?? false,
            UseRslora = s?.Bool("use_rslora") ?? false,
            Bias = s?.String("bias") ?? "none",
            ModulesToSave = s?.Strings("modules_to_save") ?? Array.Empty<string>(),
            InitLoraWeights = s?.String("init_lora_weights") ?? "true",
            LayersToTransform = s?.Ints("layers_to_transform"),
        };
        return cfg;
    }

    /// <summary>An `adalora:` section with PEFT's names; total_step defaults to the run's optimizer steps.</summary>
    public static AdaLoraConfig ReadAdaLora(ConfigSection c)
    {
        var s = c.Section("adalora");
        var (targets, regex) = Targets(s?.Strings("target_modules"));
        var d = new AdaLoraConfig();
        return new AdaLoraConfig
        {
            InitR = s?.Int("init_r") ?? d.InitR,
            TargetR = s?.Int("target_r") ?? d.TargetR,
            Tinit = s?.Int("tinit") ?? d.Tinit,
            Tfinal = s?.Int("tfinal") ?? d.Tfinal,
            DeltaT = s?.Int("deltaT") ?? d.DeltaT,
            Beta1 = s?.Double("beta1") ?? d.Beta1,
            Beta2 = s?.Double("beta2") ?? d.Beta2,
            OrthRegWeight = s?.Double("orth_reg_weight") ?? d.OrthRegWeight,
            TotalStep = s?.Int("total_step"),
            LoraAlpha = s?.Double("lora_alpha") ?? d.LoraAlpha,
            LoraDropout = s?.Double("lora_dropout") ?? d.LoraDropout,
            TargetModules = targets,
            TargetRegex = regex,
            ExcludeModules = s?.Strings("exclude_modules"),
            Bias = s?.String("bias") ?? "none",
            ModulesToSave = s?.Strings("modules_to_save") ?? Array.Empty<string>(),
        };
    }

    /// <summary>A `prompt_tuning:` section (PEFT's PromptTuningConfig names); the init text is tokenized with the model's tokenizer.</summary>
    public static PromptTuningConfig ReadPromptTuning(ConfigSection c)
    {
        var s = c.Section("prompt_tuning");
        return new PromptTuningConfig
        {
            NumVirtualTokens = s?.Int("num_virtual_tokens") ?? 20,
            PromptTuningInit = (s?.String("prompt_tuning_init") ?? "RANDOM").ToUpperInvariant(),
            PromptTuningInitText = s?.String("prompt_tuning_init_text"),
        };
    }

    /// <summary>A `prefix_tuning:` section (PEFT's PrefixTuningConfig names).</summary>
    public static PrefixTuningConfig ReadPrefixTuning(ConfigSection c)
    {
        var s = c.Section("prefix_tuning");
        return new PrefixTuningConfig
        {
            NumVirtualTokens = s?.Int("num_virtual_tokens") ?? 20,
            PrefixProjection = s?.Bool("prefix_projection") ?? false,
            EncoderHiddenSize = s?.Int("encoder_hidden_size"),
        };
    }
}
