using System.Globalization;
using System.Text.Json.Nodes;
using PeftSharp.Adapters.Lora;
using TorchSharp;
using static TorchSharp.torch;
using Linear = PeftSharp.Nn.Linear;

namespace PeftSharp.Adapters.Sora;

/// <summary>
/// SoRA (our peft_type "SORA"; Ding et al. 2023, "Sparse Low-rank Adaptation of Pre-trained Language Models"):
/// LoRA's fields plus the gate's L1 strength sparse_lambda, an optional linear ramp of it, and the gate's init.
/// Trainer checkpoints keep this form; the final save prunes zero gates and writes plain LoRA (see <see cref="SoraExport"/>).
/// </summary>
public sealed record SoraConfig : AdapterConfig
{
    public const double DefaultSparseLambda = 0.1;

    public override string PeftType => "SORA";
    public int R { get; init; } = 8;
    public double LoraAlpha { get; init; } = 16;
    public double LoraDropout { get; init; }
    /// <summary>λ of the L1 penalty on the gates; each step thresholds them by λ·lr.</summary>
    public double SparseLambda { get; init; } = DefaultSparseLambda;
    /// <summary>"constant" or "linear" (λ ramps from 0 to sparse_lambda over lambda_warmup_steps).</summary>
    public string LambdaSchedule { get; init; } = "constant";
    /// <summary>Steps of the linear ramp; 0 = the whole run.</summary>
    public int LambdaWarmupSteps { get; init; }
    /// <summary>"normal" (standard normal, as the official code) or "ones".</summary>
    public string InitGate { get; init; } = "normal";

    public static readonly HashSet<string> KnownKeys = new(CommonKeys)
    {
        "r", "lora_alpha", "lora_dropout", "bias", "sparse_lambda", "lambda_schedule", "lambda_warmup_steps", "init_gate",
    };

    public override string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"SoRA, r {R} (max), lora_alpha {LoraAlpha}, dropout {LoraDropout}, sparse_lambda {SparseLambda} ({LambdaSchedule}), gates init {InitGate}");

    public override SoraConfig Validate(string source = "SoRA config")
    {
        if (R <= 0) throw new ConfigurationException($"{source}: r must be a positive integer, found {R}");
        if (double.IsNaN(LoraAlpha) || LoraAlpha <= 0) throw new ConfigurationException($"{source}: lora_alpha must be positive, found {LoraAlpha}");
        if (double.IsNaN(LoraDropout) || LoraDropout < 0 || LoraDropout >= 1) throw new ConfigurationException($"{source}: lora_dropout must be in [0, 1), found {LoraDropout}");
        if (!double.IsFinite(SparseLambda) || SparseLambda < 0) throw new ConfigurationException($"{source}: sparse_lambda must be >= 0, found {SparseLambda}");
        if (LambdaSchedule is not ("constant" or "linear")) throw new ConfigurationException($"{source}: lambda_schedule must be constant or linear, found '{LambdaSchedule}'");
        if (LambdaWarmupSteps < 0) throw new ConfigurationException($"{source}: lambda_warmup_steps must be >= 0, found {LambdaWarmupSteps}");
        if (InitGate is not ("normal" or "ones")) throw new ConfigurationException($"{source}: init_gate must be normal or ones, found '{InitGate}'");
        ValidateBias(source);
        ValidateTargets(source, "[\"q_proj\", \"v_proj\"]");
        return this;
    }

    public override void Inject(AdapterRecord record, nn.Module model, Generator? generator)
    {
        foreach (var (path, l) in TargetMatcher.SelectLinears(model, this, "SoRA"))
        {
            record.Layers.Add(new AttachedAdapter(path, l, new SoraLinear(l, record.Name, R, LoraAlpha, LoraDropout, InitGate, generator)));
        }
    }

    public override IAdapterTraining CreateTraining(AdapterRecord record) => new SoraTraining(this, record.Of<SoraLinear>().Select(x => x.Adapter));

    public override AdapterConfig ForSave(AdapterRecord record, bool forResume) => forResume ? this : SoraExport.PrunedConfig(this, record);

    public override IDictionary<string, Tensor> SavedTensors(AdapterRecord record, IDictionary<string, Tensor> byKey, bool forResume) =>
        forResume ? byKey : SoraExport.PrunedTensors(record, byKey);

    public static SoraConfig FromJson(JsonReading j, List<string> ignored)
    {
        AddIgnoredKeys(j, KnownKeys, ignored);
        var config = (SoraConfig)new SoraConfig
        {
            R = j.Int("r", 8),
            LoraAlpha = j.Double("lora_alpha", 16),
            LoraDropout = j.Double("lora_dropout", 0),
            Bias = j.String("bias") ?? "none",
            SparseLambda = j.Double("sparse_lambda", DefaultSparseLambda),
            LambdaSchedule = j.String("lambda_schedule") ?? "constant",
            LambdaWarmupSteps = j.Int("lambda_warmup_steps", 0),
            InitGate = j.String("init_gate") ?? "normal",
        }.WithCommonFields(j);
        return config.Validate(j.Source);
    }

    public override JsonObject ToJson()
    {
        var o = new JsonObject
        {
            ["bias"] = Bias,
            ["init_gate"] = InitGate,
            ["lambda_schedule"] = LambdaSchedule,
            ["lambda_warmup_steps"] = LambdaWarmupSteps,
            ["lora_alpha"] = LoraAlpha,
            ["lora_dropout"] = LoraDropout,
            ["r"] = R,
            ["sparse_lambda"] = SparseLambda,
        };
        WriteCommonFields(o);
        return Sorted(o);
    }
}
