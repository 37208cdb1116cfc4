using static TorchSharp.torch;

namespace PeftSharp.Adapters.AdaLora;

/// <summary>
/// AdaLoRA's budget: PEFT's RankAllocator. Importance of every entry of A, E and B is |p · ∂L/∂p|, smoothed (β1) and
/// multiplied by its smoothed uncertainty (β2); a triplet (one rank of one module) scores its E entry plus the mean
/// score of its row of A and its column of B. The budget (total rank) stays at init_bgt for tinit steps, falls to
/// target_bgt along a cubic, and the lowest-scoring triplets beyond the budget have their E zeroed every deltaT steps;
/// at step total_step - tfinal the pattern is fixed and re-applied on every later step.
/// </summary>
public sealed class RankAllocator : IDisposable
{
    readonly IReadOnlyList<(string Path, AdaLoraLinear Layer)> layers;
    readonly double beta1, beta2;
    readonly int tinit, tfinal, deltaT;
    readonly Dictionary<Tensor, (Tensor Ipt, Tensor Unc)> state = new(ReferenceEqualityComparer.Instance);

    /// <summary>
    /// The run's length in optimizer steps that the budget schedule is laid over (PEFT's total_step).
    /// </summary>
    public int TotalStep { get; }
    /// <summary>The sum of the modules' ranks at the start.</summary>
    public int InitialBudget { get; }
    /// <summary>target_r times the number of modules.</summary>
    public int TargetBudget { get; }
    /// <summary>Kept ranks by module path after the last masking, or null before any (PEFT's config.rank_pattern).</summary>
    public IReadOnlyDictionary<string, bool[]>? RankPattern { get; private set; }
    /// <summary>The budget of the last step seen.</summary>
    public int Budget { get; private set; }

    /// <summary>
    /// Sets up the budget for <paramref name="layers"/> (one adapter's AdaLoRA layers) over <paramref
    /// name="totalStep"/> steps.
    /// </summary>
    public RankAllocator(IReadOnlyList<(string Path, AdaLoraLinear Layer)> layers, AdaLoraConfig config, int totalStep)
    {
        this.layers = layers;
        beta1 = config.Beta1;
        beta2 = config.Beta2;
        tinit = config.Tinit;
        tfinal = config.Tfinal;
        deltaT = config.DeltaT;
        TotalStep = totalStep;
        InitialBudget = layers.Sum(l => l.Layer.Rank);
        TargetBudget = config.TargetR * layers.Count;
        Budget = InitialBudget;
    }

    /// <summary>PEFT's budget_schedule: the budget at <paramref name="step"/> and whether this step masks.</summary>
    public (int Budget, bool Mask) Schedule(int step) => Schedule(step, InitialBudget, TargetBudget, tinit, tfinal, TotalStep, deltaT);

    /// <summary>
    /// PEFT's budget_schedule as a pure function: init budget up to tinit; then a cubic decrease to the target budget,
    /// masking every deltaT steps; after total_step - tfinal the target budget, masking every step.
    /// </summary>
    /// <returns>The budget (total kept ranks) at <paramref name="step"/> and whether ranks are masked on it.</returns>
    public static (int Budget, bool Mask) Schedule(int step, int initBudget, int targetBudget, int tinit, int tfinal, int totalStep, int deltaT)
    {
        if (step <= tinit) return (initBudget, false);
        if (step > totalStep - tfinal) return (targetBudget, true);
        double mul = 1 - (double)(step - tinit) / (totalStep - tfinal - tinit);
        return ((int)((initBudget - targetBudget) * (mul * mul * mul) + targetBudget), step % deltaT == 0);
    }

    /// <summary>PEFT's update_and_allocate(global_step), called after the optimizer step while gradients are present.</summary>
    public void Step(int step)
    {
        using var _ = no_grad();
        int final = TotalStep - tfinal;
        if (step < final)
        {
            UpdateImportance();
            var (budget, mask) = Schedule(step);
            Budget = budget;
            if (mask) RankPattern = MaskToBudget(budget);
        }
        else if (step == final)
        {
            var (budget, _) = Schedule(step);
            Budget = budget;
            RankPattern = MaskToBudget(budget);
            ResetImportance();
        }
        else
        {
            Budget = TargetBudget;
            // Resumed after the pattern was fixed: the masked singular values are the zero ones.
            RankPattern ??= layers.ToDictionary(l => l.Path, l => l.Layer.E.detach().view(-1).ne(0).data<bool>().ToArray());
            ApplyPattern(RankPattern);
        }
    }

    /// <summary>The total rank the current pattern keeps (all ranks before the first masking).</summary>
    public int KeptRank => RankPattern is null ? InitialBudget : RankPattern.Values.Sum(p => p.Count(k => k));

    void UpdateImportance()
    {
        foreach (var (_, layer) in layers)
            foreach (var p in new[] { layer.A, layer.E, layer.B })
            {
                if (p.grad is not { } grad) continue;
                if (!state.TryGetValue(p, out var s))
                    s = (zeros_like(p).DetachFromDisposeScope(), zeros_like(p).DetachFromDisposeScope());
                using var scope = NewDisposeScope();
                var ipt = (p * grad).abs();
                var avg = s.Ipt * beta1 + ipt * (1 - beta1);
                var unc = s.Unc * beta2 + (ipt - avg).abs() * (1 - beta2);
                s.Ipt.Dispose();
                s.Unc.Dispose();
                state[p] = (avg.DetachFromDisposeScope(), unc.DetachFromDisposeScope());
            }
    }

    Tensor Score(Tensor p) => state.TryGetValue(p, out var s) ? s.Ipt * s.Unc : zeros_like(p);

    Dictionary<string, bool[]> MaskToBudget(int budget)
    {
        using var scope = NewDisposeScope();
        var triplets = new List<(AdaLoraLinear Layer, string Path, Tensor Score)>();
        foreach (var (path, layer) in layers)
        {
            var a = Score(layer.A).mean(new long[] { 1 }, keepdim: true);
            var b = Score(layer.B).mean(new long[] { 0 }, keepdim: false).view(-1, 1);
            var e = Score(layer.E);
            triplets.Add((layer, path, e.view(-1) + cat(new[] { a, b }, 1).sum(1)));
        }
        int k = InitialBudget - budget;
        // PEFT's kthvalue needs k >= 1; with nothing to cut (init_r == target_r) no triplet is masked.
        double threshold = k <= 0 ? double.NegativeInfinity
            : cat(triplets.Select(t => t.Score.view(-1)).ToArray()).kthvalue(k, 0).values.item<float>();
        var pattern = new Dictionary<string, bool[]>(StringComparer.Ordinal);
        foreach (var (layer, path, score) in triplets)
        {
            var masked = score.le(threshold).view(-1, 1);
            layer.E.masked_fill_(masked, 0.0);
            pattern[path] = masked.logical_not().view(-1).data<bool>().ToArray();
        }
        return pattern;
    }

    /// <summary>PEFT's mask_using_rank_pattern: zeroes the singular values of the ranks the pattern drops.</summary>
    void ApplyPattern(IReadOnlyDictionary<string, bool[]> pattern)
    {
        foreach (var (path, layer) in layers)
        {
            if (!pattern.TryGetValue(path, out var keep)) continue;
            using var scope = NewDisposeScope();
            layer.E.masked_fill_(tensor(keep.Select(v => !v).ToArray(), device: layer.E.device).view(-1, 1), 0.0);
        }
    }

    void ResetImportance()
    {
        foreach (var (ipt, unc) in state.Values)
        {
            ipt.Dispose();
            unc.Dispose();
        }
        state.Clear();
    }

    /// <summary>Releases the importance and uncertainty tensors.</summary>
    public void Dispose() => ResetImportance();
}
