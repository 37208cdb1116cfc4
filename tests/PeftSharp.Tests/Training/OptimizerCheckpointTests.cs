using PeftSharp.IO.SafeTensors;
using PeftSharp.Training.Optimization;
using TorchSharp.Modules;

namespace PeftSharp.Tests.Training;

public sealed class OptimizerCheckpointTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("peftsharp-optim-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    static readonly AdamWOptions Options = new() { LearningRate = 5e-3, WeightDecay = 0.01 };

    static ITrainingOptimizer Create(string type, IEnumerable<(string, Parameter)> parameters) => type switch
    {
        "AdamW" => new AdamWOptimizer(parameters, Options),
        "AdamW8bit" => new AdamW8BitOptimizer(parameters, Options),
        "PagedAdamW" => new PagedAdamWOptimizer(parameters, Options),
        _ => throw new ArgumentException(type),
    };

    [Theory]
    [InlineData("AdamW")]
    [InlineData("AdamW8bit")]
    [InlineData("PagedAdamW")]
    public void Ten_steps_save_load_ten_more_equals_twenty_uninterrupted_bitwise(string type)
    {
        var schedule = new LrSchedule(LrScheduleKind.Cosine, Options.LearningRate, totalSteps: 20, warmupSteps: 4);

        using var straight = new TrainingProblem();
        using (var opt = Create(type, straight.Named())) straight.Train(opt, 20, schedule);

        using var first = new TrainingProblem();
        string path = Path.Combine(dir, "optimizer.safetensors");
        using (var opt = Create(type, first.Named()))
        {
            first.Train(opt, 10, schedule);
            OptimizerCheckpoint.Save(path, opt, schedule);
        }

        // A fresh process would rebuild the model from the adapter checkpoint: copy the weights, build a new optimizer.
        using var resumed = new TrainingProblem(seed: 99);
        resumed.CopyFrom(first);
        using (var opt = Create(type, resumed.Named()))
        {
            var info = OptimizerCheckpoint.Load(path, opt);
            Assert.Equal(10, info.Step);
            Assert.Equal(10, opt.StepCount);
            Assert.Equal(schedule, info.Schedule);
            Assert.Equal(type, info.Metadata["optimizer"]);
            resumed.Train(opt, 10, info.Schedule);
        }
        TrainingProblem.AssertBitwiseEqual(straight, resumed);
    }

    [Fact]
    public void Metadata_carries_type_and_hyper_parameters()
    {
        using var problem = new TrainingProblem();
        using var opt = new AdamW8BitOptimizer(problem.Named(), Options);
        string path = Path.Combine(dir, "meta.safetensors");
        OptimizerCheckpoint.Save(path, opt);
        using var file = SafeTensorsFile.Open(path);
        Assert.Equal("AdamW8bit", file.Metadata["optimizer"]);
        Assert.Equal("0.005", file.Metadata["lr"]);
        Assert.Equal("0.999", file.Metadata["beta2"]);
        Assert.Equal("2048", file.Metadata["block_size"]);
        Assert.Equal("0", file.Metadata["step"]);
        Assert.Contains("fc1.weight.exp_avg.absmax", file.Keys);
        Assert.Null(OptimizerCheckpoint.Load(path, opt).Schedule);
    }

    [Fact]
    public void Loading_another_optimizer_types_state_fails_clearly()
    {
        using var problem = new TrainingProblem();
        string path = Path.Combine(dir, "adamw.safetensors");
        using (var opt = new AdamWOptimizer(problem.Named(), Options)) OptimizerCheckpoint.Save(path, opt);
        using var q8 = new AdamW8BitOptimizer(problem.Named(), Options);
        var e = Assert.Throws<PeftSharpException>(() => OptimizerCheckpoint.Load(path, q8));
        Assert.Contains("AdamW's state", e.Message);
        Assert.Contains("AdamW8bit", e.Message);
    }

    [Fact]
    public void Loading_state_of_other_parameters_fails_and_names_them()
    {
        using var problem = new TrainingProblem();
        string path = Path.Combine(dir, "params.safetensors");
        using (var opt = new AdamWOptimizer(problem.Named(), Options)) OptimizerCheckpoint.Save(path, opt);

        // Another name.
        var renamed = problem.Named().Select(p => p.Name == "fc2.weight" ? ("head.weight", p.Param) : p);
        using var other = new AdamWOptimizer(renamed, Options);
        var e = Assert.Throws<PeftSharpException>(() => OptimizerCheckpoint.Load(path, other));
        Assert.Contains("missing 'head.weight.exp_avg'", e.Message);
        Assert.Contains("unexpected 'fc2.weight.exp_avg'", e.Message);

        // Same names, another shape (e.g. a different LoRA rank).
        using var wide = new Parameter(zeros(8, 64));
        var reshaped = problem.Named().Select(p => p.Name == "fc2.weight" ? (p.Name, wide) : p);
        using var shaped = new AdamWOptimizer(reshaped, Options);
        e = Assert.Throws<PeftSharpException>(() => OptimizerCheckpoint.Load(path, shaped));
        Assert.Contains("'fc2.weight.exp_avg' has shape [8, 128]", e.Message);
        Assert.Equal(0, shaped.StepCount);
    }

    [Fact]
    public void A_file_that_is_not_an_optimizer_checkpoint_is_rejected()
    {
        string path = Path.Combine(dir, "adapter.safetensors");
        using (var t = ones(2)) SafeTensorsWriter.Write(path, [new("w", t)]);
        using var problem = new TrainingProblem();
        using var opt = new AdamWOptimizer(problem.Named());
        var e = Assert.Throws<InvalidFileFormatException>(() => OptimizerCheckpoint.Load(path, opt));
        Assert.Contains("not an optimizer checkpoint", e.Message);
    }
}
