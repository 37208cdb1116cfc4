using PeftSharp.Training.Optimization;

namespace PeftSharp.Tests.Training;

public class PagedAdamWTests
{
    [Fact]
    public void Is_bitwise_AdamW_over_20_steps_on_cpu()
    {
        using var a = new TrainingProblem();
        using var b = new TrainingProblem();
        var options = new AdamWOptions { LearningRate = 1e-2, WeightDecay = 0.05 };
        using var reference = new AdamWOptimizer(a.Named(), options);
        using var paged = new PagedAdamWOptimizer(b.Named(), options);
        var schedule = new LrSchedule(LrScheduleKind.Cosine, 1e-2, 20, warmupSteps: 3);
        a.Train(reference, 20, schedule);
        b.Train(paged, 20, schedule);
        TrainingProblem.AssertBitwiseEqual(a, b);
        var sa = reference.StateDict();
        var sb = paged.StateDict();
        Assert.Equal(sa.Keys.Order(), sb.Keys.Order());
        foreach (var key in sa.Keys) Assert.True(TrainingProblem.Same(sa[key], sb[key]), key);
        Assert.Equal(reference.StateBytes, paged.StateBytes);
        foreach (var t in sa.Values.Concat(sb.Values)) t.Dispose();
    }

    [Fact]
    public void State_lives_on_the_host()
    {
        using var p = new TrainingProblem();
        using var paged = new PagedAdamWOptimizer(p.Named());
        var state = paged.StateDict();
        Assert.All(state.Values, t => Assert.Equal(DeviceType.CPU, t.device_type));
        Assert.Equal(cuda.is_available(), paged.Pinned);
        foreach (var t in state.Values) t.Dispose();
    }
}
