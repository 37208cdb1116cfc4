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
    /// <summary>Default sparse_lambda, the L1 strength on the gates: 0.1.</summary>
    public const double DefaultSparseLambda = 0.1;

    /// <inheritdoc/>
    public override string PeftType => "SORA";
    /// <summary>Maximum rank per layer (r), before the gates prune it; default 8, positive.</summary>
    public int R { get; init; } = 8;
    /// <summary>
    /// Scaling numerator (lora_alpha): the update is multiplied by lora_alpha / r; default 16, positive.
    /// </summary>
    public double LoraAlpha { get; init; } = 16;
    /// <summary>
    /// Dropout probability on the adapter's input while training (lora_dropout); default 0, in [0, 1).
    /// </summary>
    public double LoraDropout { get; init; }
    /// <summary>λ of the L1 penalty on the gates; each step thresholds them by λ·lr.</summary>
    public double SparseLambda { get; init; } = DefaultSparseLambda;
    /// <summary>"constant" or "linear" (λ ramps from 0 to sparse_lambda over lambda_warmup_steps).</summary>
    public string LambdaSchedule { get; init; } = "constant";
    /// <summary>Steps of the linear ramp; 0 = the whole run.</summary>
    public int LambdaWarmupSteps { get; init; }
    /// <summary>"normal" (standard normal, as the official code) or "ones".</summary>
    public string InitGate { get; init; } = "normal";

    /// <summary>
    /// The adapter_config.json keys a SoRA config may carry; others are reported as ignored when reading.
    /// </summary>
    public static readonly HashSet<string> KnownKeys = new(CommonKeys)
    {
        "r", "lora_alpha", "lora_dropout", "bias", "sparse_lambda", "lambda_schedule", "lambda_warmup_steps", "init_gate",
    };

    /// <inheritdoc/>
    public override string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"SoRA, r {R} (max), lora_alpha {LoraAlpha}, dropout {LoraDropout}, sparse_lambda {SparseLambda} ({LambdaSchedule}), gates init {InitGate}");

    /// <inheritdoc/>
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

    /// <summary>Attaches a <see cref="SoraLinear"/> to every targeted Linear.</summary>
    /// <exception cref="ConfigurationException">A target is not a Linear layer, or nothing matches.</exception>
    public override void Inject(AdapterRecord record, nn.Module model, Generator? generator)
    {
        foreach (var (path, l) in TargetMatcher.SelectLinears(model, this, "SoRA"))
        {
            record.Layers.Add(new AttachedAdapter(path, l, new SoraLinear(l, record.Name, R, LoraAlpha, LoraDropout, InitGate, generator)));
        }
    }

    /// <summary>The gates' proximal step and metrics for this adapter's layers (<see cref="SoraTraining"/>).</summary>
    public override IAdapterTraining CreateTraining(AdapterRecord record) => new SoraTraining(this, record.Of<SoraLinear>().Select(x => x.Adapter));

    /// <summary>
    /// A trainer checkpoint keeps this SoRA config; the final save is the pruned plain LoRA config (<see
    /// cref="SoraExport.PrunedConfig"/>).
    /// </summary>
    public override AdapterConfig ForSave(AdapterRecord record, bool forResume) => forResume ? this : SoraExport.PrunedConfig(this, record);

    /// <summary>
    /// A trainer checkpoint keeps the SoRA tensors; the final save writes the pruned LoRA tensors with the gates folded
    /// into B.
    /// </summary>
    public override IDictionary<string, Tensor> SavedTensors(AdapterRecord record, IDictionary<string, Tensor> byKey, bool forResume) =>
        forResume ? byKey : SoraExport.PrunedTensors(record, byKey);

    /// <summary>
    /// Reads adapter_config.json (peft_type SORA); keys not used are added to <paramref name="ignored"/>.
    /// </summary>
    /// <exception cref="ConfigurationException">A value is out of range.</exception>
    /// <exception cref="InvalidFileFormatException">A value has the wrong JSON type.</exception>
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

    /// <inheritdoc/>
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
