using System.Diagnostics;
using PeftSharp.Models;
using PeftSharp.Models.Llama;
using PeftSharp.Peft;
using PeftSharp.Training.Batches;
using PeftSharp.Training.Distributed;
using PeftSharp.Training.Optimization;
using PeftSharp.Training.Objectives;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Training;

/// <summary>Where a run is after a step: for progress displays.</summary>
public sealed record TrainingProgress(int Step, int TotalSteps, double Loss, double LearningRate, double TokensPerSecond, string Eta, double PeakMemoryMiB);

/// <summary>What <see cref="Trainer.Run"/> did.</summary>
/// <param name="Steps">Optimizer steps completed (global step at the end).</param>
/// <param name="FinalEvalLoss">Eval loss at the final evaluation; null without an eval set.</param>
/// <param name="FinalEvalPerplexity">exp(eval loss) for language-model objectives; null otherwise or without an eval set.</param>
/// <param name="OutputDir">Where the adapter (or model), checkpoints, metrics.jsonl and loss.png were written.</param>
/// <param name="StoppedEarly">True when early stopping ended the run before its last step.</param>
/// <param name="SkippedSteps">Steps skipped for a non-finite loss or gradient.</param>
/// <param name="Elapsed">Wall time of the run.</param>
public sealed record TrainingResult(int Steps, double? FinalEvalLoss, double? FinalEvalPerplexity, string OutputDir, bool StoppedEarly, int SkippedSteps, TimeSpan Elapsed)
{
    /// <summary>The objective's metrics at the final evaluation (perplexity, accuracy, macro F1, WER, ...).</summary>
    public IReadOnlyDictionary<string, double>? FinalEvalMetrics { get; init; }
}

/// <summary>
/// The supervised fine-tuning loop, for any <see cref="ITrainingObjective"/> (causal LM, classification, speech): micro-batches with gradient accumulation (every predicted token weighs the
/// same across the accumulated batch), clipping, AdamW variants, a learning-rate schedule, periodic evaluation,
/// early stopping, non-finite loss handling, atomic checkpoints and exact resume. With an adapter only the adapter
/// trains; without one (full fine-tuning) every parameter does.
/// </summary>
public sealed class Trainer
{
    readonly TrainerOptions o;
    readonly ITrainingObjective objective;
    readonly nn.Module model;
    readonly PeftModel? peft;
    readonly IBatchSource train;
    readonly IBatchSource? eval;
    TextWriter log;

    /// <summary>
    /// The base model's name or path, written as base_model_name_or_path in adapter_config.json (as PEFT does); null
    /// leaves it unset.
    /// </summary>
    public string? BaseModelName { get; init; }
    /// <summary>Called after every optimizer step (e.g. to redraw a live progress line).</summary>
    public Action<TrainingProgress>? Progress { get; init; }
    /// <summary>Files copied into every saved model/adapter folder (e.g. tokenizer files), name -> source path.</summary>
    public IReadOnlyDictionary<string, string>? ExtraFiles { get; init; }
    /// <summary>The output folder's lock when the caller took it before loading the model (the CLI does); else the run takes it.</summary>
    public OutputDirLock? OutputLock { get; init; }
    /// <summary>
    /// The ranks of a data-parallel job (<see cref="MpiCommunicator"/>); null: one process. Each rank computes its
    /// shard of every step (<see cref="DataSharding"/>), gradients are summed over ranks, and only rank 0 writes
    /// checkpoints, metrics, the final adapter and log lines.
    /// </summary>
    public ICollectives? Collectives { get; init; }
    bool IsMain => (Collectives?.Rank ?? 0) == 0;

    /// <summary>Causal-LM fine-tuning (SFT, continued pre-training) of a decoder-only model.</summary>
    public Trainer(TrainerOptions options, LlamaForCausalLM model, PeftModel? peft, IBatchSource train, IBatchSource? eval, TextWriter? log = null)
        : this(options, new CausalLmObjective(model, options.ChunkedLoss), peft, train, eval, log) { }

    /// <summary>A trainer for any objective (classification, speech-to-text, causal LM).</summary>
    /// <param name="options">The loop's settings; validated here.</param>
    /// <param name="objective">Model, loss and eval metrics.</param>
    /// <param name="peft">The PEFT model whose active adapter trains; null for full fine-tuning (every parameter trains).</param>
    /// <param name="train">Training batches.</param>
    /// <param name="eval">Evaluation batches, or null for no evaluation.</param>
    /// <param name="log">Where progress lines go; null: nowhere.</param>
    /// <exception cref="ConfigurationException">The options are invalid or the training set yields no batch.</exception>
    public Trainer(TrainerOptions options, ITrainingObjective objective, PeftModel? peft, IBatchSource train, IBatchSource? eval, TextWriter? log = null)
    {
        o = options.Validate();
        this.objective = objective;
        model = objective.Model;
        this.peft = peft;
        // Batches are built on the CPU; they meet the model on its device.
        this.train = DeviceBatchSource.For(train, model);
        this.eval = eval is null ? null : DeviceBatchSource.For(eval, model);
        this.log = log ?? TextWriter.Null;
        if (train.BatchesPerEpoch == 0) throw new ConfigurationException("the training set produced no batches: add data or lower micro_batch_size");
    }

    /// <summary>max_steps, or every epoch's steps (an epoch ends with a possibly smaller accumulation group); a step takes accumulation x ranks micro-batches.</summary>
    public int TotalSteps => o.MaxSteps > 0 ? o.MaxSteps
        : (int)Math.Ceiling((double)train.BatchesPerEpoch / (o.GradientAccumulationSteps * (Collectives?.Size ?? 1))) * o.NumEpochs;

    List<(string Name, Parameter Param)> TrainableParameters()
    {
        if (peft is null)
            foreach (var (_, p) in model.named_parameters()) p.requires_grad = p.numel() > 0;
        var seen = new HashSet<IntPtr>();
        return model.named_parameters().Where(p => p.parameter.requires_grad && seen.Add(p.parameter.Handle))
            .Select(p => (p.name, p.parameter)).ToList();
    }

    ITrainingOptimizer CreateOptimizer(List<(string, Parameter)> parameters)
    {
        var opts = new AdamWOptions { LearningRate = o.LearningRate, Beta1 = o.AdamBeta1, Beta2 = o.AdamBeta2, Eps = o.AdamEpsilon, WeightDecay = o.WeightDecay };
        // A method may keep some of its parameters out of weight decay (SoRA's gates have their own L1 step).
        WeightDecayRule? rule = peft?.ActiveTraining is { } method ? (n, p) => WeightDecayRules.Default(n, p) && !method.ExcludeFromWeightDecay(n) : null;
        return o.Optimizer switch
        {
            "adamw_8bit" => new AdamW8BitOptimizer(parameters, opts, rule),
            "paged_adamw" or "paged_adamw_32bit" => new PagedAdamWOptimizer(parameters, opts, rule),
            _ => new AdamWOptimizer(parameters, opts, rule),
        };
    }

    /// <summary>
    /// Trains to the end (or early stop, or cancellation), resuming from resume_from_checkpoint when set; then
    /// evaluates, checkpoints and saves the adapter (or full model) to output_dir. Like HF Trainer.train().
    /// </summary>
    /// <param name="cancel">Stops after the current optimizer step; the run still evaluates and saves what it has.</param>
    /// <returns>Steps run, final eval figures and where the output went.</returns>
    /// <exception cref="ConfigurationException">Nothing to train, the output folder is locked or unwritable, or the checkpoint to resume from does not fit.</exception>
    /// <exception cref="PeftSharpException">Too many consecutive non-finite steps (max_bad_steps), or the final save failed (the last checkpoint is kept).</exception>
    public TrainingResult Run(CancellationToken cancel = default)
    {
        var watch = Stopwatch.StartNew();
        if (!IsMain) log = TextWriter.Null; // rank 0 writes the run's files and log lines
        using var ownLock = OutputLock is null && IsMain ? OutputDirLock.Acquire(o.OutputDir) : null;
        foreach (var leftover in IsMain ? IO.AtomicFolder.RemoveLeftovers(o.OutputDir) : [])
            log.WriteLine($"removed {leftover}, left by an interrupted run");
        var store = new CheckpointStore(o.OutputDir, o.SaveTotalLimit);
        var parameters = TrainableParameters();
        if (parameters.Count == 0) throw new ConfigurationException("nothing to train: no parameter requires a gradient");
        using var optimizer = CreateOptimizer(parameters);
        int totalSteps = TotalSteps;
        int warmup = o.WarmupSteps > 0 ? o.WarmupSteps : (int)Math.Ceiling(o.WarmupRatio * totalSteps);
        var schedule = new LrSchedule(LrSchedule.ParseKind(o.LrScheduler), o.LearningRate, totalSteps, warmup);
        manual_seed(o.Seed);
        var state = new TrainerState { TotalSteps = totalSteps };
        var resumeFrom = store.Resolve(o.ResumeFromCheckpoint);
        int savedStep = -1; // the step of the newest checkpoint on disk, so a resumed finished run does not write it again
        if (resumeFrom is not null)
        {
            state = LoadCheckpoint(resumeFrom, optimizer);
            savedStep = state.GlobalStep;
            log.WriteLine($"resumed from {resumeFrom} at step {state.GlobalStep} (epoch {state.Epoch}, batch {state.BatchInEpoch})");
        }
        // On resume, metrics logged after the checkpoint (by the run that died) are dropped: those steps run again. So
        // is the final evaluation when the run died after its last checkpoint: it runs again too.
        bool finished = state.GlobalStep >= totalSteps;
        var earlier = resumeFrom is null ? new List<MetricPoint>()
            : MetricsLog.Read(MetricsLog.PathIn(o.OutputDir)).Where(p => p.Step < state.GlobalStep || (p.Step == state.GlobalStep && !(finished && p.Split == "eval"))).ToList();
        using var metrics = IsMain ? new MetricsLog(o.OutputDir, o.TensorBoard, earlier) : MetricsLog.InMemory(earlier);
        using var ranks = new DataParallel(Collectives ?? SingleProcess.Instance, parameters.Select(p => p.Param).ToList(), TimeSpan.FromSeconds(o.DdpTimeout));
        ranks.BroadcastParameters();
        if (ranks.WorldSize > 1) log.WriteLine(ranks.Describe(o.MicroBatchSize, o.GradientAccumulationSteps));
        objective.GradientCheckpointing = o.GradientCheckpointing;
        peft?.ActiveTraining?.Begin(totalSteps);
        SetTraining(true);
        log.WriteLine($"training {parameters.Sum(p => p.Item2.numel()):N0} parameters for {totalSteps} steps ({train.BatchesPerEpoch} micro-batches per epoch, accumulation {o.GradientAccumulationSteps}), optimizer {optimizer.TypeName}");

        // The base model's eval loss, so the run reports how far training moved it.
        EvalResult? initialEval = null;
        if (eval is not null && state.GlobalStep == 0)
        {
            initialEval = Evaluate();
            state = RecordEval(state, initialEval, metrics, out _);
        }
        int consecutiveBad = 0;
        bool stoppedEarly = false;
        double windowLoss = 0;
        long windowTokens = 0, windowPredicted = 0;
        var windowWatch = Stopwatch.StartNew();
        double lastGradNorm = 0;
        var group = new List<TrainingBatch>();
        EvalResult? lastEval = null;

        bool Done() => state.GlobalStep >= totalSteps || stoppedEarly || cancel.IsCancellationRequested;

        // One optimizer step over the collected micro-batches, then logging, evaluation and checkpoints.
        void ProcessGroup(int epoch, StepShard shard)
        {
            int consumed = shard.ConsumedAfter;
            var (loss, predicted, tokens, ok) = AccumulationStep(group, shard.GlobalMicroBatches, ranks, optimizer, schedule, state.GlobalStep, ref lastGradNorm);
            foreach (var b in group) b.Dispose();
            group.Clear();
            state = state with { Epoch = epoch, BatchInEpoch = consumed, TokensSeen = state.TokensSeen + tokens };
            if (!ok)
            {
                consecutiveBad++;
                state = state with { SkippedSteps = state.SkippedSteps + 1 };
                Diagnostics.Warn($"step {state.GlobalStep + 1}: non-finite loss or gradient; the step is skipped ({consecutiveBad} in a row)");
                if (consecutiveBad >= o.MaxBadSteps)
                    throw new PeftSharpException(
                        $"{consecutiveBad} consecutive steps had a non-finite loss or gradient: training stopped. The last good checkpoint is kept in {o.OutputDir}; " +
                        "lower the learning rate, enable max_grad_norm, or check the data");
                return;
            }
            consecutiveBad = 0;
            state = state with { GlobalStep = state.GlobalStep + 1 };
            FaultPoint.Hit("step");
            Progress?.Invoke(new TrainingProgress(state.GlobalStep, totalSteps, loss / Math.Max(1, predicted), schedule.LrAt(state.GlobalStep - 1),
                (windowTokens + tokens) / Math.Max(1e-9, windowWatch.Elapsed.TotalSeconds), Eta(watch, state.GlobalStep, totalSteps), ProcessMemory.PeakBytes() / 1048576.0));
            windowLoss += loss;
            windowPredicted += predicted;
            windowTokens += tokens;
            if (state.GlobalStep % o.LoggingSteps == 0 || state.GlobalStep == totalSteps)
            {
                var point = new MetricPoint(state.GlobalStep, EpochProgress(state), "train", windowLoss / Math.Max(1, windowPredicted),
                    schedule.LrAt(state.GlobalStep - 1), lastGradNorm, windowTokens / windowWatch.Elapsed.TotalSeconds,
                    PeakMemoryMiB: ProcessMemory.PeakBytes() / 1048576.0, Method: peft?.ActiveTraining?.Metrics() is { Count: > 0 } m ? m : null)
                {
                    SkippedSteps = state.SkippedSteps > 0 ? state.SkippedSteps : null,
                };
                metrics.Log(point);
                log.WriteLine($"{MetricsLog.Format(point)} eta {Eta(watch, state.GlobalStep, totalSteps)}");
                windowLoss = 0;
                windowPredicted = windowTokens = 0;
                windowWatch.Restart();
            }
            if (eval is not null && o.EvalSteps > 0 && state.GlobalStep % o.EvalSteps == 0 && state.GlobalStep < totalSteps)
            {
                lastEval = Evaluate();
                state = RecordEval(state, lastEval, metrics, out stoppedEarly);
            }
            if (o.SaveSteps > 0 && state.GlobalStep % o.SaveSteps == 0 && state.GlobalStep < totalSteps)
                savedStep = SaveCheckpoint(store, state, optimizer);
        }

        var trainingWatch = Stopwatch.StartNew();
        int stepsAtStart = state.GlobalStep;
        for (int epoch = state.Epoch; !Done(); epoch++)
        {
            int skip = epoch == state.Epoch ? state.BatchInEpoch : 0;
            // An epoch's last, smaller accumulation group still makes a step (as HF's Trainer does).
            foreach (var (batches, shard) in DataSharding.Groups(train, epoch, skip, o.GradientAccumulationSteps, ranks.Rank, ranks.WorldSize))
            {
                group.AddRange(batches);
                ProcessGroup(epoch, shard);
                if (Done()) break;
            }
            if (!Done()) state = state with { Epoch = epoch + 1, BatchInEpoch = 0 };
        }
        if (ranks.WorldSize > 1) log.WriteLine(ranks.Summary(trainingWatch.Elapsed, state.GlobalStep - stepsAtStart));
        foreach (var b in group) b.Dispose();
        SetTraining(false);
        if (eval is not null)
        {
            lastEval = Evaluate();
            state = RecordEval(state, lastEval, metrics, out _);
        }
        if (savedStep != state.GlobalStep) SaveCheckpoint(store, state, optimizer);
        SaveFinal(store);
        if (IsMain) LossPlot.TryWrite(metrics.History, Path.Combine(o.OutputDir, "loss.png"));
        var result = new TrainingResult(state.GlobalStep, lastEval?.Loss, lastEval?.Perplexity, o.OutputDir, stoppedEarly, state.SkippedSteps, watch.Elapsed)
        {
            FinalEvalMetrics = lastEval?.Metrics,
        };
        log.WriteLine($"done: {result.Steps} steps in {watch.Elapsed.TotalSeconds:F0} s" +
            (lastEval is { } e ? $", eval loss {e.Loss:F4}" + string.Concat(e.Metrics.Select(m => $", {m.Key} {m.Value:F4}")) : "") +
            (initialEval is { } i && lastEval is { } f ? BeforeAfter(i, f) : "") +
            $"; saved to {Path.GetFullPath(o.OutputDir)}");
        return result;
    }

    /// <summary>How far training moved the headline metric: perplexity for language models, else the eval loss.</summary>
    static string BeforeAfter(EvalResult before, EvalResult after) =>
        before.Perplexity is { } i && after.Perplexity is { } f ? $" (before training {i:F2}: {100 * (f / i - 1):+0.0;-0.0}%)"
        : $" (before training: eval loss {before.Loss:F4}" + string.Concat(before.Metrics.Select(m => $", {m.Key} {m.Value:F4}")) + ")";

    void SetTraining(bool training)
    {
        peft?.SetTraining(training);
        if (training) model.train();
        else model.eval();
    }

    static string Eta(Stopwatch w, int step, int total)
    {
        if (step == 0) return "?";
        var left = TimeSpan.FromSeconds(w.Elapsed.TotalSeconds / step * (total - step));
        return left.TotalHours >= 1 ? left.ToString(@"h\:mm\:ss") : left.ToString(@"m\:ss");
    }

    double EpochProgress(TrainerState s) => s.Epoch + (double)s.BatchInEpoch / train.BatchesPerEpoch;

    /// <summary>Forward/backward over one accumulation group, then clip and step. Returns false for a non-finite step.</summary>
    /// <remarks>With several ranks the token counts, loss and gradients are sums over every rank's micro-batches of the step.</remarks>
    (double Loss, long Predicted, long Tokens, bool Ok) AccumulationStep(List<TrainingBatch> batches, int globalMicroBatches, DataParallel ranks,
        ITrainingOptimizer optimizer, LrSchedule schedule, int step, ref double gradNorm)
    {
        var (predicted, tokens) = ranks.SumCounts(step + 1, batches.Sum(objective.Targets), batches.Sum(objective.Tokens));
        double lossSum = 0;
        bool finite = true;
        var method = peft?.ActiveTraining;
        optimizer.ZeroGrad();
        foreach (var b in batches)
        {
            using var scope = NewDisposeScope();
            var sum = objective.Loss(b);
            double value = sum.item<float>();
            if (!double.IsFinite(value))
            {
                finite = false;
                break;
            }
            lossSum += value;
            var loss = sum / Math.Max(1, predicted);
            // A method's regulariser (AdaLoRA's orthogonality term) counts once per optimizer step, as in PEFT.
            if (method?.RegularizationLoss() is { } reg) loss = loss + reg / globalMicroBatches;
            loss.backward();
        }
        finite = ranks.ReduceGradients(step + 1, ref lossSum, finite);
        if (finite)
        {
            gradNorm = o.MaxGradNorm > 0
                ? GradientClipping.ClipByGlobalNorm(optimizer, o.MaxGradNorm)
                : GradientClipping.ClipByGlobalNorm(optimizer, double.MaxValue);
            finite = double.IsFinite(gradNorm);
        }
        if (!finite)
        {
            optimizer.ZeroGrad();
            return (0, predicted, tokens, false);
        }
        schedule.Apply(optimizer, step);
        optimizer.Step();
        // While the gradients are still there: AdaLoRA's importance scores read them, SoRA thresholds its gates.
        method?.AfterOptimizerStep(step, schedule.LrAt(step));
        optimizer.ZeroGrad();
        return (lossSum, predicted, tokens, true);
    }

    /// <summary>Target-weighted mean loss over the eval set, and the objective's metrics (perplexity, accuracy, ...).</summary>
    public EvalResult Evaluate()
    {
        if (eval is null) throw new InvalidOperationException("no eval set");
        bool wasTraining = peft?.Training ?? true;
        SetTraining(false);
        var result = objective.Evaluate(eval);
        SetTraining(wasTraining);
        return result;
    }

    TrainerState RecordEval(TrainerState state, EvalResult e, MetricsLog metrics, out bool stop)
    {
        var others = e.Metrics.Where(m => m.Key != "perplexity").ToDictionary(m => m.Key, m => m.Value);
        var point = new MetricPoint(state.GlobalStep, EpochProgress(state), "eval", e.Loss, Perplexity: e.Perplexity, Metrics: others.Count > 0 ? others : null);
        metrics.Log(point);
        log.WriteLine(MetricsLog.Format(point));
        bool improved = state.BestEvalLoss is not { } best || e.Loss < best;
        var next = improved
            ? state with { BestEvalLoss = e.Loss, EvalsWithoutImprovement = 0 }
            : state with { EvalsWithoutImprovement = state.EvalsWithoutImprovement + 1 };
        stop = o.EarlyStoppingPatience > 0 && next.EvalsWithoutImprovement >= o.EarlyStoppingPatience;
        if (stop) log.WriteLine($"early stopping: eval loss has not improved for {next.EvalsWithoutImprovement} evaluations");
        return next;
    }

    const string StateFile = "trainer_state.json";
    const string OptimizerFile = "optimizer.safetensors";
    const string RngFile = "rng_state.safetensors";

    int SaveCheckpoint(CheckpointStore store, TrainerState state, ITrainingOptimizer optimizer)
    {
        if (!IsMain) return state.GlobalStep;
        var path = store.Save(state.GlobalStep, dir =>
        {
            SaveWeights(dir);
            FaultPoint.Hit("checkpoint-write");
            OptimizerCheckpoint.Save(Path.Combine(dir, OptimizerFile), optimizer);
            using var rng = get_rng_state();
            IO.SafeTensors.SafeTensorsWriter.Write(Path.Combine(dir, RngFile), new Dictionary<string, Tensor> { ["cpu"] = rng });
            state.Save(Path.Combine(dir, StateFile));
        });
        log.WriteLine($"checkpoint {path}");
        return state.GlobalStep;
    }

    void SaveWeights(string dir)
    {
        if (peft is not null)
        {
            AdapterFolder.Save(peft, dir, BaseModelName, forResume: true);
            WriteAdapterFolderFiles(dir);
        }
        else objective.SaveModel(Path.Combine(dir, "model"), ExtraFiles, overwrite: false);
    }

    /// <summary>The final adapter (or model) at the root of output_dir, where `--adapter output_dir` finds it.</summary>
    void SaveFinal(CheckpointStore store)
    {
        if (!IsMain) return;
        try { WriteFinal(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PeftSharpException($"could not write the final {(peft is null ? "model" : "adapter")} to {o.OutputDir} ({e.Message}). " +
                $"The last checkpoint {Path.GetFileName(store.Resolve("latest"))} holds the same weights: free disk space or make the folder writable, then run again with --resume", e);
        }
    }

    void WriteFinal()
    {
        if (peft is not null)
        {
            AdapterFolder.Save(peft, o.OutputDir, BaseModelName);
            FaultPoint.Hit("final-save");
            foreach (var (name, source) in ExtraFiles ?? new Dictionary<string, string>())
                IO.AtomicFile.WriteAllBytes(Path.Combine(o.OutputDir, name), File.ReadAllBytes(source));
            WriteAdapterFolderFiles(o.OutputDir);
        }
        else objective.SaveModel(Path.Combine(o.OutputDir, "model"), ExtraFiles, overwrite: true);
    }

    void WriteAdapterFolderFiles(string dir)
    {
        foreach (var (name, contents) in objective.AdapterFolderFiles)
            IO.AtomicFile.WriteAllBytes(Path.Combine(dir, name), System.Text.Encoding.UTF8.GetBytes(contents));
    }

    TrainerState LoadCheckpoint(string dir, ITrainingOptimizer optimizer)
    {
        var state = TrainerState.Load(Path.Combine(dir, StateFile));
        if (peft is not null)
        {
            var name = peft.ActiveAdapter ?? throw new PeftSharpException("no active adapter to resume into");
            AdapterFolder.LoadWeights(peft, name, dir);
        }
        else objective.LoadModel(Path.Combine(dir, "model"));
        OptimizerCheckpoint.Load(Path.Combine(dir, OptimizerFile), optimizer);
        using (var rng = IO.SafeTensors.SafeTensorsFile.Open(Path.Combine(dir, RngFile)))
        using (var t = rng.Load("cpu"))
            set_rng_state(t);
        return state;
    }
}
