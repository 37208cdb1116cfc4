using PeftSharp.Training.Optimization;

namespace PeftSharp.Tests.Training;

/// <summary>Hand-computed values of HF's schedules with lr 1e-3, 100 total steps, 10 warmup steps.</summary>
public class LrScheduleTests
{
    const double Lr = 1e-3;

    [Theory]
    // step, expected factor (start, mid-warmup, end of warmup, middle of decay, near the end, end)
    [InlineData(LrScheduleKind.Linear, 0, 0.0)]
    [InlineData(LrScheduleKind.Linear, 5, 0.5)]
    [InlineData(LrScheduleKind.Linear, 10, 1.0)]
    [InlineData(LrScheduleKind.Linear, 55, 0.5)]        // (100 - 55) / 90
    [InlineData(LrScheduleKind.Linear, 91, 0.1)]        // 9 / 90
    [InlineData(LrScheduleKind.Linear, 100, 0.0)]
    [InlineData(LrScheduleKind.Cosine, 0, 0.0)]
    [InlineData(LrScheduleKind.Cosine, 5, 0.5)]
    [InlineData(LrScheduleKind.Cosine, 10, 1.0)]
    [InlineData(LrScheduleKind.Cosine, 55, 0.5)]        // progress 1/2: (1 + cos(pi/2)) / 2
    [InlineData(LrScheduleKind.Cosine, 100, 0.0)]
    [InlineData(LrScheduleKind.ConstantWithWarmup, 0, 0.0)]
    [InlineData(LrScheduleKind.ConstantWithWarmup, 5, 0.5)]
    [InlineData(LrScheduleKind.ConstantWithWarmup, 10, 1.0)]
    [InlineData(LrScheduleKind.ConstantWithWarmup, 100, 1.0)]
    [InlineData(LrScheduleKind.Constant, 0, 1.0)]
    [InlineData(LrScheduleKind.Constant, 5, 1.0)]
    [InlineData(LrScheduleKind.Constant, 100, 1.0)]
    public void Matches_hand_computed_values(LrScheduleKind kind, int step, double factor)
    {
        var schedule = new LrSchedule(kind, Lr, totalSteps: 100, warmupSteps: 10);
        Assert.Equal(Lr * factor, schedule.LrAt(step), 1e-15);
    }

    [Fact]
    public void Cosine_hand_value_at_step_32()
    {
        // (1 + cos(pi * 22 / 90)) / 2 = (1 + cos(44 degrees)) / 2 = (1 + 0.7193398003386512) / 2
        var schedule = new LrSchedule(LrScheduleKind.Cosine, Lr, 100, 10);
        Assert.Equal(Lr * 0.8596699001693256, schedule.LrAt(32), 1e-15);
    }

    [Fact]
    public void Warmup_ratio_rounds_up_like_hf()
    {
        Assert.Equal(5, LrSchedule.Create(LrScheduleKind.Linear, Lr, 100, warmupRatio: 0.05).WarmupSteps);
        Assert.Equal(4, LrSchedule.Create(LrScheduleKind.Linear, Lr, 100, warmupRatio: 0.033).WarmupSteps);
        Assert.Equal(7, LrSchedule.Create(LrScheduleKind.Linear, Lr, 100, warmupSteps: 7, warmupRatio: 0.5).WarmupSteps);
    }

    [Fact]
    public void Past_the_end_linear_and_cosine_stay_at_zero()
    {
        Assert.Equal(0.0, new LrSchedule(LrScheduleKind.Linear, Lr, 100, 10).LrAt(150));
        Assert.Equal(0.0, new LrSchedule(LrScheduleKind.Cosine, Lr, 100, 10).LrAt(100));
    }

    [Fact]
    public void Hf_names_parse_and_metadata_round_trips()
    {
        Assert.Equal(LrScheduleKind.ConstantWithWarmup, LrSchedule.ParseKind("constant_with_warmup"));
        Assert.Throws<ConfigurationException>(() => LrSchedule.ParseKind("polynomial"));
        var schedule = new LrSchedule(LrScheduleKind.Cosine, 2e-4, 1000, 30);
        Assert.Equal(schedule, LrSchedule.FromMetadata(schedule.ToMetadata(), "test"));
    }
}
