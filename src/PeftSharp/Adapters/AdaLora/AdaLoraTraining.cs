using static TorchSharp.torch;

namespace PeftSharp.Adapters.AdaLora;

/// <summary>
/// AdaLoRA during training: the orthogonal regulariser added to the loss (PEFT's AdaLoraModel.forward) and the rank
/// allocator run after every optimizer step (PEFT's update_and_allocate(global_step)).
/// </summary>
public sealed class AdaLoraTraining : IAdapterTraining, IDisposable
{
    readonly AdaLoraConfig config;
    readonly List<(string Path, AdaLoraLinear Layer)> layers;
    double lastRegularizer = double.NaN;

    /// <summary>The allocator; made by <see cref="Begin"/> (total_step, when the config has none, is the run's steps).</summary>
    public RankAllocator? Allocator { get; private set; }

    /// <summary>Rules for the given layers of one adapter; the allocator is created by <see cref="Begin"/>.</summary>
    public AdaLoraTraining(AdaLoraConfig config, IEnumerable<(string Path, AdaLoraLinear Layer)> layers)
    {
        this.config = config;
        this.layers = layers.ToList();
    }

    /// <summary>
    /// Creates the rank allocator for a run of <paramref name="totalSteps"/> optimizer steps (the config's total_step
    /// wins when set).
    /// </summary>
    /// <exception cref="ConfigurationException">total_step - tinit - tfinal leaves no budgeting phase.</exception>
    public void Begin(int totalSteps)
    {
        int total = config.TotalStep ?? totalSteps;
        AdaLoraConfig.CheckSchedule(total, config.Tinit, config.Tfinal,
            config.TotalStep is null ? $"AdaLoRA (total_step taken from the run's {totalSteps} steps)" : "AdaLoRA config");
        var previous = Allocator;
        Allocator = new RankAllocator(layers, config, total);
        previous?.Dispose();
    }

    /// <summary>orth_reg_weight · mean over every A and B of ||A Aᵀ - I||_F (for A) and ||Bᵀ B - I||_F (for B).</summary>
    public Tensor? RegularizationLoss()
    {
        if (layers.Count == 0) return null;
        using var scope = NewDisposeScope();
        Tensor? sum = null;
        int count = 0;
        foreach (var (_, layer) in layers)
            foreach (var cov in new[] { layer.A.matmul(layer.A.t()), layer.B.t().matmul(layer.B) })
            {
                using var identity = eye(cov.shape[0], cov.shape[1], cov.dtype, cov.device);
                var norm = (cov - identity).norm();
                sum = sum is null ? norm : sum + norm;
                count++;
            }
        var regu = sum! / count * config.OrthRegWeight;
        lastRegularizer = regu.to(ScalarType.Float64).item<double>();
        return regu.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Runs the rank allocator for <paramref name="step"/> (importance update, budget, masking); the learning rate is
    /// unused.
    /// </summary>
    /// <exception cref="ConfigurationException"><see cref="Begin"/> was not called and the config has no
    /// total_step.</exception>
    public void AfterOptimizerStep(int step, double learningRate)
    {
        if (Allocator is null) Begin(config.TotalStep ?? throw new ConfigurationException("AdaLoRA: total_step is not set and the trainer did not call Begin with the run's steps"));
        Allocator!.Step(step);
    }

    /// <summary>
    /// adalora_budget (current total rank budget), adalora_rank (ranks kept) and adalora_orth_reg (last regulariser
    /// value).
    /// </summary>
    public IReadOnlyDictionary<string, double> Metrics()
    {
        var m = new Dictionary<string, double>();
        if (Allocator is { } a)
        {
            m["adalora_budget"] = a.Budget;
            m["adalora_rank"] = a.KeptRank;
        }
        if (!double.IsNaN(lastRegularizer)) m["adalora_orth_reg"] = lastRegularizer;
        return m;
    }

    /// <summary>Releases the allocator's importance statistics.</summary>
    public void Dispose() => Allocator?.Dispose();
}
