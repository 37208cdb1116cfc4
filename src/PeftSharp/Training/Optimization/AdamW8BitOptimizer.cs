using PeftSharp.Quantization;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Training.Optimization;

/// <summary>
/// bitsandbytes' blockwise 8-bit AdamW (Adam8bit with decoupled decay): exp_avg is stored with the signed dynamic
/// map and exp_avg_sq with the unsigned one, blocksize 2048, one fp32 absmax per block, about a quarter of fp32
/// AdamW's state. Each step, per parameter, the moments are decoded to fp32, updated with the same arithmetic as
/// <see cref="AdamWOptimizer"/> (the parameter update uses the fp32 values) and re-encoded, so the extra peak is one
/// parameter's fp32 moments. Parameters with fewer than <see cref="MinQuantizedSize"/> elements keep fp32 moments,
/// as bnb's min_8bit_size, because their absmax overhead and error are not worth it.
/// </summary>
/// <remarks>
/// State keys: quantized moments as "&lt;p&gt;.exp_avg" / "&lt;p&gt;.exp_avg_sq" (uint8 codes) with
/// "&lt;p&gt;.exp_avg.absmax" / "&lt;p&gt;.exp_avg_sq.absmax" (fp32); small parameters as fp32 "&lt;p&gt;.exp_avg" /
/// "&lt;p&gt;.exp_avg_sq". The raw codes are saved (not decoded values) so a resumed run is bitwise identical.
/// The quantizer is host code, so on CUDA the moments live in host memory and cross the bus each step.
/// </remarks>
public sealed class AdamW8BitOptimizer : AdamWOptimizerBase
{
    /// <summary>bnb's min_8bit_size.</summary>
    public const long MinQuantizedSize = 4096;

    readonly Dictionary<string, (QuantizedMoment ExpAvg, QuantizedMoment ExpAvgSq)> quantized = new(StringComparer.Ordinal);
    readonly Dictionary<string, (Tensor ExpAvg, Tensor ExpAvgSq)> dense = new(StringComparer.Ordinal);

    /// <summary>
    /// An 8-bit AdamW over the named parameters (the trainer's optimizer "adamw_8bit"; bnb.optim.AdamW8bit). Moments
    /// start at zero.
    /// </summary>
    /// <param name="parameters">Trainable parameters with unique names (their state keys).</param>
    /// <param name="options">Hyper-parameters; null: <see cref="AdamWOptions"/>' defaults.</param>
    /// <param name="weightDecayRule">Which parameters decay; null: <see cref="WeightDecayRules.Default"/>.</param>
    /// <param name="blockSize">Elements per absmax block of the quantized moments; default 2048 (bitsandbytes').</param>
    /// <exception cref="ConfigurationException">The options are invalid, or the parameters are empty, repeated or not floating point.</exception>
    public AdamW8BitOptimizer(IEnumerable<(string Name, Parameter Param)> parameters, AdamWOptions? options = null,
        WeightDecayRule? weightDecayRule = null, int blockSize = Blockwise8Bit.DefaultBlockSize)
        : base(parameters, options, weightDecayRule)
    {
        BlockSize = blockSize;
        foreach (var p in Parameters)
        {
            if (p.Param.numel() >= MinQuantizedSize)
                quantized[p.Name] = (new QuantizedMoment(p.Param.shape, Codebooks.DynamicSigned8Bit, blockSize),
                                     new QuantizedMoment(p.Param.shape, Codebooks.DynamicUnsigned8Bit, blockSize));
            else
                dense[p.Name] = (Zeros(p.Param), Zeros(p.Param));
        }
    }

    /// <summary>"AdamW8bit".</summary>
    public override string TypeName => "AdamW8bit";
    /// <summary>Elements per absmax block of the quantized moments.</summary>
    public int BlockSize { get; }

    static Tensor Zeros(Parameter p) => zeros(p.shape, ScalarType.Float32, p.device).DetachFromDisposeScope();

    /// <inheritdoc/>
    protected override void StepGroup(ParameterGroup group, long step, double lr)
    {
        foreach (var p in group.Parameters)
        {
            var grad = p.Param.grad;
            if (grad is null) continue;
            if (dense.TryGetValue(p.Name, out var d))
            {
                AdamWMath.Update(p.Param, grad, d.ExpAvg, d.ExpAvgSq, step, lr, group.WeightDecay, Options);
                continue;
            }
            // Scope per parameter: only one parameter's fp32 moments exist at a time.
            using var scope = NewDisposeScope();
            var (qm, qv) = quantized[p.Name];
            var m = qm.Load(p.Param.device);
            var v = qv.Load(p.Param.device);
            AdamWMath.Update(p.Param, grad, m, v, step, lr, group.WeightDecay, Options);
            qm.Store(m);
            qv.Store(v);
        }
    }

    /// <inheritdoc/>
    protected override IEnumerable<(string Key, Tensor Tensor)> StateTensors()
    {
        foreach (var p in Parameters)
        {
            if (dense.TryGetValue(p.Name, out var d))
            {
                yield return (p.Name + ".exp_avg", d.ExpAvg);
                yield return (p.Name + ".exp_avg_sq", d.ExpAvgSq);
            }
            else
            {
                var (qm, qv) = quantized[p.Name];
                yield return (p.Name + ".exp_avg", qm.Codes);
                yield return (p.Name + ".exp_avg.absmax", qm.Absmax);
                yield return (p.Name + ".exp_avg_sq", qv.Codes);
                yield return (p.Name + ".exp_avg_sq.absmax", qv.Absmax);
            }
        }
    }

    /// <summary>The AdamW options plus "block_size" and "min_8bit_size".</summary>
    public override IReadOnlyDictionary<string, string> HyperParameters
    {
        get
        {
            var h = Options.ToStrings();
            h["block_size"] = BlockSize.ToString(System.Globalization.CultureInfo.InvariantCulture);
            h["min_8bit_size"] = MinQuantizedSize.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return h;
        }
    }

    /// <inheritdoc/>
    protected override void DisposeState()
    {
        foreach (var (m, v) in quantized.Values) { m.Dispose(); v.Dispose(); }
        foreach (var (m, v) in dense.Values) { m.Dispose(); v.Dispose(); }
        quantized.Clear();
        dense.Clear();
    }
}
