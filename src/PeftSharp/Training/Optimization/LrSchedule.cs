using System.Globalization;

namespace PeftSharp.Training.Optimization;

/// <summary>The HF transformers schedule names.</summary>
public enum LrScheduleKind
{
    /// <summary>"constant": the base rate at every step; warmup is ignored (HF get_constant_schedule).</summary>
    Constant,
    /// <summary>"constant_with_warmup": linear warmup, then the base rate.</summary>
    ConstantWithWarmup,
    /// <summary>"linear": linear warmup, then a linear decay to 0 at the last step.</summary>
    Linear,
    /// <summary>"cosine": linear warmup, then a cosine decay to 0 (half a wave by default).</summary>
    Cosine,
}

/// <summary>
/// Learning rate as a function of the optimizer step, as HF transformers' get_scheduler: the step counts from 0 (the
/// lr used by the first optimizer step is LrAt(0)); warmup rises linearly as lr * step / warmup; then linear decays to
/// 0 at total_steps, cosine follows 0.5 * (1 + cos(pi * 2 * num_cycles * progress)) (num_cycles 0.5: one half wave to
/// 0), constant_with_warmup stays at lr. "constant" ignores warmup, as HF's get_constant_schedule.
/// Stateless: resuming needs only the step, which the optimizer state carries.
/// </summary>
public sealed record LrSchedule
{
    /// <summary>A schedule over <paramref name="totalSteps"/> optimizer steps.</summary>
    /// <param name="kind">constant, constant_with_warmup, linear or cosine.</param>
    /// <param name="baseLearningRate">The peak learning rate reached after warmup.</param>
    /// <param name="totalSteps">The run's optimizer steps; linear and cosine reach 0 there.</param>
    /// <param name="warmupSteps">Steps of linear warmup from 0; default 0.</param>
    /// <param name="numCycles">Cosine waves over the decay; default 0.5 (a half wave to 0, HF's default).</param>
    /// <exception cref="ConfigurationException">A value is negative or non-finite, or <paramref name="numCycles"/> is not positive.</exception>
    public LrSchedule(LrScheduleKind kind, double baseLearningRate, int totalSteps, int warmupSteps = 0, double numCycles = 0.5)
    {
        if (!(baseLearningRate >= 0) || double.IsInfinity(baseLearningRate))
            throw new ConfigurationException($"learning rate must be a finite number >= 0, not {baseLearningRate}");
        if (totalSteps < 0) throw new ConfigurationException($"total steps must be >= 0, not {totalSteps}");
        if (warmupSteps < 0) throw new ConfigurationException($"warmup steps must be >= 0, not {warmupSteps}");
        if (!(numCycles > 0)) throw new ConfigurationException($"num_cycles must be > 0, not {numCycles}");
        Kind = kind;
        BaseLearningRate = baseLearningRate;
        TotalSteps = totalSteps;
        WarmupSteps = warmupSteps;
        NumCycles = numCycles;
    }

    /// <summary>The schedule's shape.</summary>
    public LrScheduleKind Kind { get; }
    /// <summary>The peak learning rate (after warmup).</summary>
    public double BaseLearningRate { get; }
    /// <summary>Optimizer steps the schedule spans.</summary>
    public int TotalSteps { get; }
    /// <summary>Steps of linear warmup (ignored by constant).</summary>
    public int WarmupSteps { get; }
    /// <summary>Cosine waves over the decay phase (0.5: one half wave).</summary>
    public double NumCycles { get; }

    /// <summary>
    /// Warmup given as steps, or (when <paramref name="warmupSteps"/> is 0) as a ratio of total steps rounded up,
    /// as HF TrainingArguments.get_warmup_steps.
    /// </summary>
    public static LrSchedule Create(LrScheduleKind kind, double baseLearningRate, int totalSteps, int warmupSteps = 0, double warmupRatio = 0)
    {
        if (!(warmupRatio >= 0 && warmupRatio <= 1)) throw new ConfigurationException($"warmup_ratio must be in [0, 1], not {warmupRatio}");
        int warmup = warmupSteps > 0 ? warmupSteps : (int)Math.Ceiling(totalSteps * warmupRatio);
        return new LrSchedule(kind, baseLearningRate, totalSteps, warmup);
    }

    /// <summary>The multiplier of the base learning rate at <paramref name="step"/> (0-based).</summary>
    public double Factor(int step)
    {
        if (step < 0) throw new ArgumentOutOfRangeException(nameof(step), step, "steps count from 0");
        if (Kind == LrScheduleKind.Constant) return 1.0;
        if (step < WarmupSteps) return (double)step / Math.Max(1, WarmupSteps);
        return Kind switch
        {
            LrScheduleKind.ConstantWithWarmup => 1.0,
            LrScheduleKind.Linear => Math.Max(0.0, (double)(TotalSteps - step) / Math.Max(1, TotalSteps - WarmupSteps)),
            LrScheduleKind.Cosine => Cosine(step),
            _ => throw new InvalidOperationException($"unknown schedule {Kind}"),
        };
    }

    double Cosine(int step)
    {
        double progress = (double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps);
        return Math.Max(0.0, 0.5 * (1.0 + Math.Cos(Math.PI * NumCycles * 2.0 * progress)));
    }

    /// <summary>The learning rate for <paramref name="step"/> (0-based): base rate × <see cref="Factor"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="step"/> is negative.</exception>
    public double LrAt(int step) => BaseLearningRate * Factor(step);

    /// <summary>Sets the optimizer's learning rate for the step about to be taken (its StepCount, 0-based).</summary>
    public void Apply(ITrainingOptimizer optimizer, int step) => optimizer.LearningRate = LrAt(step);

    /// <summary>HF names: constant, constant_with_warmup, linear, cosine.</summary>
    public static LrScheduleKind ParseKind(string name) => name.Trim().ToLowerInvariant() switch
    {
        "constant" => LrScheduleKind.Constant,
        "constant_with_warmup" => LrScheduleKind.ConstantWithWarmup,
        "linear" => LrScheduleKind.Linear,
        "cosine" => LrScheduleKind.Cosine,
        _ => throw new ConfigurationException($"unknown lr_scheduler_type '{name}'; use constant, constant_with_warmup, linear or cosine"),
    };

    /// <summary>The HF name of <paramref name="kind"/> (the inverse of <see cref="ParseKind"/>).</summary>
    public static string KindName(LrScheduleKind kind) => kind switch
    {
        LrScheduleKind.Constant => "constant",
        LrScheduleKind.ConstantWithWarmup => "constant_with_warmup",
        LrScheduleKind.Linear => "linear",
        LrScheduleKind.Cosine => "cosine",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    /// <summary>The schedule as checkpoint metadata ("schedule.*" keys).</summary>
    public Dictionary<string, string> ToMetadata() => new()
    {
        ["schedule.type"] = KindName(Kind),
        ["schedule.lr"] = AdamWOptions.Format(BaseLearningRate),
        ["schedule.total_steps"] = TotalSteps.ToString(CultureInfo.InvariantCulture),
        ["schedule.warmup_steps"] = WarmupSteps.ToString(CultureInfo.InvariantCulture),
        ["schedule.num_cycles"] = AdamWOptions.Format(NumCycles),
    };

    /// <summary>The schedule saved by <see cref="ToMetadata"/>, or null when the metadata has none.</summary>
    public static LrSchedule? FromMetadata(IReadOnlyDictionary<string, string> metadata, string source)
    {
        if (!metadata.TryGetValue("schedule.type", out var type)) return null;
        string Get(string key) => metadata.TryGetValue(key, out var v) ? v
            : throw new InvalidFileFormatException(source, $"metadata has schedule.type but no '{key}'");
        try
        {
            return new LrSchedule(ParseKind(type),
                double.Parse(Get("schedule.lr"), CultureInfo.InvariantCulture),
                int.Parse(Get("schedule.total_steps"), CultureInfo.InvariantCulture),
                int.Parse(Get("schedule.warmup_steps"), CultureInfo.InvariantCulture),
                double.Parse(Get("schedule.num_cycles"), CultureInfo.InvariantCulture));
        }
        catch (FormatException e)
        {
            throw new InvalidFileFormatException(source, $"unreadable schedule metadata ({e.Message})", e);
        }
    }
}
