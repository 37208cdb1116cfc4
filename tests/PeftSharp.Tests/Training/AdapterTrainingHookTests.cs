using System.Text.Json.Nodes;
using PeftSharp.Adapters;
using PeftSharp.Adapters.Lora;
using PeftSharp.Models.Llama;
using PeftSharp.Peft;
using PeftSharp.Tests.Support;
using PeftSharp.Training;

namespace PeftSharp.Tests.Training;

/// <summary>The trainer drives a method's training rules (IAdapterTraining) at the points the methods need them.</summary>
public class AdapterTrainingHookTests
{
    /// <summary>Records every call; its regulariser is c·Σ A² over the adapter's lora_A matrices.</summary>
    sealed class Recorder(double regWeight) : IAdapterTraining
    {
        public AdapterRecord? Record;
        public int? Total;
        public readonly List<(int Step, double Lr, bool GradsPresent)> Steps = new();
        public int RegCalls;

        public void Begin(int totalSteps) => Total = totalSteps;

        public Tensor? RegularizationLoss()
        {
            RegCalls++;
            if (regWeight == 0) return null;
            var sum = Record!.Of<LoraLinear>().Select(l => l.Adapter.A.weight.pow(2).sum()).Aggregate((a, b) => a + b);
            return sum * regWeight;
        }

        public void AfterOptimizerStep(int step, double learningRate) =>
            Steps.Add((step, learningRate, Record!.Of<LoraLinear>().All(l => l.Adapter.A.weight.grad is not null)));

        public IReadOnlyDictionary<string, double> Metrics() => new Dictionary<string, double> { ["after_step_calls"] = Steps.Count };
    }

    /// <summary>LoRA with a recording training rule: the smallest method that exercises every hook.</summary>
    sealed record HookedLora(LoraConfig Inner, Recorder Hooks) : AdapterConfig
    {
        public override string PeftType => "LORA";
        public override AdapterConfig Validate(string source = "adapter config") => this with { Inner = Inner.Validate(source) };
        public override JsonObject ToJson() => Inner.ToJson();
        public override void Inject(AdapterRecord record, nn.Module model, Generator? generator) => Inner.Inject(record, model, generator);
        public override IAdapterTraining CreateTraining(AdapterRecord record)
        {
            Hooks.Record = record;
            return Hooks;
        }
    }

    static (LlamaForCausalLM Model, PeftModel Peft, Recorder Hooks) Setup(double regWeight)
    {
        var model = TinyModels.Random(TinyModels.Config(), seed: 3);
        var hooks = new Recorder(regWeight);
        var peft = PeftModel.Create(model, new HookedLora(new LoraConfig { R = 4, TargetModules = new[] { "q_proj", "v_proj" } }, hooks), seed: 1);
        return (model, peft, hooks);
    }

    static TrainerOptions Options(string dir, int steps) => new()
    {
        OutputDir = dir, MaxSteps = steps, GradientAccumulationSteps = 2, LoggingSteps = 1, TensorBoard = false,
        LearningRate = 1e-2, LrScheduler = "linear",
    };

    [Fact]
    public void Begin_regulariser_and_after_step_rule_are_called_with_the_run_s_steps_and_rates_while_gradients_exist()
    {
        var (model, peft, hooks) = Setup(regWeight: 0);
        using var dir = Fixtures.NewTempDir();
        new Trainer(Options(dir.Path, 3), model, peft, new EarlyStoppingTests.FixedSource(6), null).Run(TestContext.Current.CancellationToken);

        Assert.Equal(3, hooks.Total);
        Assert.Equal(new[] { 0, 1, 2 }, hooks.Steps.Select(s => s.Step));
        Assert.All(hooks.Steps, s => Assert.True(s.GradsPresent, $"gradients were cleared before the after-step rule at step {s.Step}"));
        // Linear decay from 1e-2 over 3 steps, no warm-up: the rate used by each step.
        Assert.Equal(new[] { 1e-2, 1e-2 * 2 / 3, 1e-2 / 3 }, hooks.Steps.Select(s => s.Lr), new ToleranceComparer(1e-12));
        Assert.Equal(6, hooks.RegCalls); // once per micro-batch: 3 steps x 2
        var logged = MetricsLog.Read(Path.Combine(dir.Path, "metrics.jsonl")).Where(p => p.Split == "train").ToList();
        Assert.Equal(new double[] { 1, 2, 3 }, logged.Select(p => p.Method!["after_step_calls"]));
    }

    [Fact]
    public void The_regulariser_s_gradient_reaches_the_adapter()
    {
        Tensor TrainedA(double weight)
        {
            var (model, peft, hooks) = Setup(weight);
            using var dir = Fixtures.NewTempDir();
            new Trainer(Options(dir.Path, 1) with { Optimizer = "adamw", MaxGradNorm = 0 }, model, peft, new EarlyStoppingTests.FixedSource(2), null)
                .Run(TestContext.Current.CancellationToken);
            return hooks.Record!.Of<LoraLinear>().First().Adapter.A.weight.detach().clone();
        }
        var plain = TrainedA(0);
        var pulled = TrainedA(1e3);
        // B starts at zero, so without the regulariser A gets no gradient on the first step; with it, A shrinks.
        Assert.True(pulled.abs().sum().item<float>() < plain.abs().sum().item<float>() - 1e-3,
            "a regulariser that penalises |A|² must shrink A in one step");
    }

    sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) <= tolerance;
        public int GetHashCode(double d) => 0;
    }
}
