using PeftSharp.Adapters;
using PeftSharp.Adapters.Bottleneck;
using PeftSharp.Adapters.Ia3;
using PeftSharp.Adapters.Sora;

namespace PeftSharp.Cli.Config;

/// <summary>The `ia3:`, `sora:` and `bottleneck:` sections of the training YAML, with PEFT-style field names.</summary>
internal static class MethodSections
{
    /// <summary>`ia3:` — target_modules and feedforward_modules default to PEFT's Llama mapping (k/v/down, down).</summary>
    public static Ia3Config ReadIa3(ConfigSection c)
    {
        var s = c.Section("ia3");
        var targets = s?.Strings("target_modules");
        var (names, regex) = AdapterSections.Targets(targets ?? Ia3Config.LlamaTargets, allLinearByDefault: false);
        var ff = s?.Strings("feedforward_modules") ?? (targets is null ? Ia3Config.LlamaFeedForward : null);
        var (ffNames, ffRegex) = AdapterSections.Targets(ff, allLinearByDefault: false);
        return Common(s, new Ia3Config
        {
            TargetModules = names,
            TargetRegex = regex,
            FeedForwardModules = ffNames,
            FeedForwardRegex = ffRegex,
            InitIa3Weights = s?.Bool("init_ia3_weights") ?? true,
        });
    }

    /// <summary>`sora:` — LoRA's r / lora_alpha / lora_dropout plus sparse_lambda and its schedule.</summary>
    public static SoraConfig ReadSora(ConfigSection c)
    {
        var s = c.Section("sora");
        var (names, regex) = AdapterSections.Targets(s?.Strings("target_modules"));
        return Common(s, new SoraConfig
        {
            TargetModules = names,
            TargetRegex = regex,
            R = s?.Int("r") ?? 8,
            LoraAlpha = s?.Double("lora_alpha") ?? 16,
            LoraDropout = s?.Double("lora_dropout") ?? 0.0,
            SparseLambda = s?.Double("sparse_lambda") ?? SoraConfig.DefaultSparseLambda,
            LambdaSchedule = s?.String("lambda_schedule") ?? "constant",
            LambdaWarmupSteps = s?.Int("lambda_warmup_steps") ?? 0,
            InitGate = s?.String("init_gate") ?? "normal",
        });
    }

    /// <summary>`bottleneck:` — Houlsby adapters after o_proj and down_proj by default.</summary>
    public static BottleneckConfig ReadBottleneck(ConfigSection c)
    {
        var s = c.Section("bottleneck");
        var (names, regex) = AdapterSections.Targets(s?.Strings("target_modules") ?? BottleneckConfig.DefaultTargets, allLinearByDefault: false);
        return Common(s, new BottleneckConfig
        {
            TargetModules = names,
            TargetRegex = regex,
            AdapterSize = s?.Int("adapter_size") ?? 64,
            NonLinearity = s?.String("non_linearity") ?? "relu",
            AdapterDropout = s?.Double("adapter_dropout") ?? 0.0,
            UseParallelAdapter = s?.Bool("use_parallel_adapter") ?? false,
            Scaling = s?.Double("scaling") ?? 1.0,
        });
    }

    /// <summary>The fields every method section may set besides its own.</summary>
    static T Common<T>(ConfigSection? s, T config) where T : AdapterConfig => config with
    {
        ExcludeModules = s?.Strings("exclude_modules"),
        ModulesToSave = s?.Strings("modules_to_save") ?? Array.Empty<string>(),
        LayersToTransform = s?.Ints("layers_to_transform"),
    };
}
