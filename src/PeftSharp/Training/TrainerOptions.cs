namespace PeftSharp.Training;

/// <summary>The training loop's settings, with the names TRL / axolotl users know (snake_case in YAML).</summary>
public sealed record TrainerOptions
{
    /// <summary>
    /// output_dir: where checkpoints, the final adapter or model, metrics.jsonl and loss.png go; default "output".
    /// </summary>
    public string OutputDir { get; init; } = "output";
    /// <summary>seed: torch's RNG is seeded with it when the run starts (dropout and other draws in training); default 42.</summary>
    public long Seed { get; init; } = 42;
    /// <summary>
    /// micro_batch_size (HF per_device_train_batch_size): examples per forward pass; positive, default 1.
    /// </summary>
    public int MicroBatchSize { get; init; } = 1;
    /// <summary>
    /// gradient_accumulation_steps: micro-batches per optimizer step; positive, default 1. Effective batch =
    /// MicroBatchSize × this (× ranks in a data-parallel run).
    /// </summary>
    public int GradientAccumulationSteps { get; init; } = 1;
    /// <summary>
    /// num_epochs (HF num_train_epochs): passes over the training set when <see cref="MaxSteps"/> is 0; default 1.
    /// </summary>
    public int NumEpochs { get; init; } = 1;
    /// <summary>Optimizer steps to run; 0 = as many as the epochs take.</summary>
    public int MaxSteps { get; init; }
    /// <summary>
    /// learning_rate: the peak learning rate after warmup; positive, default 2e-4 (a common LoRA value; HF's default is
    /// 5e-5).
    /// </summary>
    public double LearningRate { get; init; } = 2e-4;
    /// <summary>constant, constant_with_warmup, linear or cosine.</summary>
    public string LrScheduler { get; init; } = "cosine";
    /// <summary>warmup_steps: steps of linear warmup from 0; 0 (default) uses <see cref="WarmupRatio"/>.</summary>
    public int WarmupSteps { get; init; }
    /// <summary>
    /// warmup_ratio: warmup as a fraction of the total steps (rounded up), in [0, 1); used when
    /// <see cref="WarmupSteps"/> is 0. Default 0.
    /// </summary>
    public double WarmupRatio { get; init; }
    /// <summary>
    /// weight_decay: AdamW's decoupled weight decay; at least 0, default 0. Biases and norm weights are exempt.
    /// </summary>
    public double WeightDecay { get; init; }
    /// <summary>
    /// max_grad_norm: clip the global L2 norm of the gradients to this; 0 turns clipping off. Default 1.0.
    /// </summary>
    public double MaxGradNorm { get; init; } = 1.0;
    /// <summary>adamw, adamw_8bit or paged_adamw.</summary>
    public string Optimizer { get; init; } = "adamw";
    /// <summary>adam_beta1: decay of the first-moment average; default 0.9.</summary>
    public double AdamBeta1 { get; init; } = 0.9;
    /// <summary>adam_beta2: decay of the second-moment average; default 0.999.</summary>
    public double AdamBeta2 { get; init; } = 0.999;
    /// <summary>adam_epsilon: added to the denominator for stability; default 1e-8.</summary>
    public double AdamEpsilon { get; init; } = 1e-8;
    /// <summary>
    /// logging_steps: write a train metrics point every N optimizer steps (and at the last); positive, default 10.
    /// </summary>
    public int LoggingSteps { get; init; } = 10;
    /// <summary>Evaluate every N optimizer steps (0 = only at the end).</summary>
    public int EvalSteps { get; init; }
    /// <summary>Checkpoint every N optimizer steps (0 = only at the end).</summary>
    public int SaveSteps { get; init; }
    /// <summary>
    /// save_total_limit: checkpoints kept in output_dir (oldest deleted first, the newest always kept); default 2.
    /// </summary>
    public int SaveTotalLimit { get; init; } = 2;
    /// <summary>Stop when eval loss has not improved for this many evaluations (0 = never).</summary>
    public int EarlyStoppingPatience { get; init; }
    /// <summary>Stop after this many consecutive steps with a non-finite loss or gradient.</summary>
    public int MaxBadSteps { get; init; } = 5;
    /// <summary>
    /// gradient_checkpointing: recompute each decoder layer's activations in backward instead of keeping them (about
    /// one extra forward, much less memory); default false.
    /// </summary>
    public bool GradientCheckpointing { get; init; }
    /// <summary>Compute the loss from hidden states in chunks of positions, never holding the full fp32 logits.</summary>
    public bool ChunkedLoss { get; init; } = true;
    /// <summary>Also write TensorBoard event files under output_dir/runs; default true.</summary>
    public bool TensorBoard { get; init; } = true;
    /// <summary>
    /// ddp_timeout (as HF TrainingArguments): seconds one collective of a data-parallel run (mpirun) may wait for the
    /// other ranks before the job is aborted with a message naming the rank and step; default 1800. It must cover the
    /// longest pause of rank 0 (an evaluation or a checkpoint write).
    /// </summary>
    public int DdpTimeout { get; init; } = 1800;
    /// <summary>"latest", a checkpoint folder, or null.</summary>
    public string? ResumeFromCheckpoint { get; init; }

    /// <summary>Checks the settings and returns these options.</summary>
    /// <exception cref="ConfigurationException">A value is out of range (sizes, steps and the learning rate must be positive) or a scheduler or optimizer name is unknown.</exception>
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
        if (DdpTimeout <= 0) throw new ConfigurationException($"ddp_timeout must be a positive number of seconds, found {DdpTimeout}");
        if (MaxBadSteps <= 0) throw new ConfigurationException($"max_bad_steps must be positive, found {MaxBadSteps}");
        return this;
    }
}
