namespace PeftSharp.Training;

/// <summary>The training loop's settings, with the names TRL / axolotl users know (snake_case in YAML).</summary>
public sealed record TrainerOptions
{
    public string OutputDir { get; init; } = "output";
    public long Seed { get; init; } = 42;
    public int MicroBatchSize { get; init; } = 1;
    public int GradientAccumulationSteps { get; init; } = 1;
    public int NumEpochs { get; init; } = 1;
    /// <summary>Optimizer steps to run; 0 = as many as the epochs take.</summary>
    public int MaxSteps { get; init; }
    public double LearningRate { get; init; } = 2e-4;
    /// <summary>constant, constant_with_warmup, linear or cosine.</summary>
    public string LrScheduler { get; init; } = "cosine";
    public int WarmupSteps { get; init; }
    public double WarmupRatio { get; init; }
    public double WeightDecay { get; init; }
    public double MaxGradNorm { get; init; } = 1.0;
    /// <summary>adamw, adamw_8bit or paged_adamw.</summary>
    public string Optimizer { get; init; } = "adamw";
    public double AdamBeta1 { get; init; } = 0.9;
    public double AdamBeta2 { get; init; } = 0.999;
    public double AdamEpsilon { get; init; } = 1e-8;
    public int LoggingSteps { get; init; } = 10;
    /// <summary>Evaluate every N optimizer steps (0 = only at the end).</summary>
    public int EvalSteps { get; init; }
    /// <summary>Checkpoint every N optimizer steps (0 = only at the end).</summary>
    public int SaveSteps { get; init; }
    public int SaveTotalLimit { get; init; } = 2;
    /// <summary>Stop when eval loss has not improved for this many evaluations (0 = never).</summary>
    public int EarlyStoppingPatience { get; init; }
    /// <summary>Stop after this many consecutive steps with a non-finite loss or gradient.</summary>
    public int MaxBadSteps { get; init; } = 5;
    public bool GradientCheckpointing { get; init; }
    /// <summary>Compute the loss from hidden states in chunks of positions, never holding the full fp32 logits.</summary>
    public bool ChunkedLoss { get; init; } = true;
    public bool TensorBoard { get; init; } = true;
    /// <summary>"latest", a checkpoint folder, or null.</summary>
    public string? ResumeFromCheckpoint { get; init; }

    public TrainerOptions Validate()
    {
        void Positive(double v, string name)
        {
            if (!(v > 0) || double.IsInfinity(v)) throw new ConfigurationException($"{name} must be a positive number, found {v}");
        }
        Positive(MicroBatchSize, "micro_batch_size");
        Positive(GradientAccumulationSteps, "gradient_accumulation_steps");
        Positive(LearningRate, "learning_rate");
        if (MaxSteps <= 0) Positive(NumEpochs, "num_epochs (or set max_steps)");
        if (MaxSteps < 0) throw new ConfigurationException($"max_steps must be >= 0, found {MaxSteps}");
        if (LrScheduler is not ("constant" or "constant_with_warmup" or "linear" or "cosine"))
            throw new ConfigurationException($"lr_scheduler '{LrScheduler}' is not one of constant, constant_with_warmup, linear, cosine");
        if (Optimizer is not ("adamw" or "adamw_torch" or "adamw_8bit" or "paged_adamw" or "paged_adamw_32bit"))
            throw new ConfigurationException($"optimizer '{Optimizer}' is not one of adamw, adamw_8bit, paged_adamw");
        if (WarmupSteps < 0) throw new ConfigurationException($"warmup_steps must be >= 0, found {WarmupSteps}");
        if (!(WarmupRatio >= 0 && WarmupRatio < 1)) throw new ConfigurationException($"warmup_ratio must be in [0, 1), the fraction of steps spent warming up, found {WarmupRatio}");
        if (double.IsNaN(WeightDecay) || WeightDecay < 0) throw new ConfigurationException($"weight_decay must be >= 0, found {WeightDecay}");
        if (double.IsNaN(MaxGradNorm) || MaxGradNorm < 0) throw new ConfigurationException($"max_grad_norm must be >= 0 (0 = no clipping), found {MaxGradNorm}");
        if (LoggingSteps <= 0) throw new ConfigurationException($"logging_steps must be positive, found {LoggingSteps}");
        if (MaxBadSteps <= 0) throw new ConfigurationException($"max_bad_steps must be positive, found {MaxBadSteps}");
        return this;
    }
}
