using PeftSharp.Adapters.Lora;
using PeftSharp.Peft;
using PeftSharp.Tests.Support;
using PeftSharp.Training;
using PeftSharp.Training.Objectives;
using TorchSharp;
using TorchSharp.Modules;

namespace PeftSharp.Tests.Training;

/// <summary>Non-finite losses injected into the loop: skipped and counted, and fatal after max_bad_steps in a row.</summary>
public class TrainerFaultTests
{
    /// <summary>Fixed random batches; before the batches listed in <paramref name="poisoned"/> the head weight is made NaN, after them restored.</summary>
    sealed class PoisonedSource(PeftSharp.Models.Llama.LlamaForCausalLM model, int count, HashSet<int> poisoned) : IBatchSource
    {
        public int BatchesPerEpoch => count;

        public IEnumerable<TrainingBatch> Epoch(int epoch)
        {
            var rng = new Random(epoch);
            var saved = model.lm_head.weight.detach().clone();
            for (int i = 0; i < count; i++)
            {
                using (no_grad())
                {
                    if (poisoned.Contains(i)) model.lm_head.weight[0, 0] = float.NaN;
                    else model.lm_head.weight.copy_(saved);
                }
                var ids = Enumerable.Range(0, 12).Select(_ => (long)rng.Next(97)).ToArray();
                yield return new TrainingBatch(tensor(ids).unsqueeze(0), tensor(ids).unsqueeze(0));
            }
            using (no_grad()) model.lm_head.weight.copy_(saved);
        }
    }

    static (Trainer Trainer, TempDir Dir, PeftModel Peft) Setup(HashSet<int> poisoned, int maxBad, int steps, int saveSteps = 0)
    {
        var model = TinyModels.Random(TinyModels.Config(), seed: 3);
        var peft = PeftModel.Create(model, new LoraConfig { R = 4, TargetModules = new[] { "q_proj", "v_proj" } }, seed: 1);
        var dir = Fixtures.NewTempDir();
        var options = new TrainerOptions { OutputDir = dir.Path, MaxSteps = steps, MaxBadSteps = maxBad, LoggingSteps = 1, TensorBoard = false, LearningRate = 1e-3, SaveSteps = saveSteps };
        return (new Trainer(options, model, peft, new PoisonedSource(model, 10, poisoned), null), dir, peft);
    }

    [Fact]
    public void A_non_finite_step_is_skipped_warned_and_counted_and_training_goes_on()
    {
        var warnings = new List<string>();
        using var redirect = Diagnostics.RedirectWarnings(warnings.Add);
        var (trainer, dir, peft) = Setup(new HashSet<int> { 2, 5 }, maxBad: 3, steps: 6);
        using var _ = dir;
        var result = trainer.Run(TestContext.Current.CancellationToken);
        Assert.Equal(6, result.Steps);
        Assert.Equal(2, result.SkippedSteps);
        Assert.Equal(2, warnings.Count(w => w.Contains("non-finite")));
        Assert.All(peft.TrainableParameters(), p => Assert.False(p.isnan().any().item<bool>()));   // skipped steps never touched the adapter
        var logged = MetricsLog.Read(MetricsLog.PathIn(dir.Path)).Where(p => p.Split == "train").ToList();
        Assert.Null(logged[0].SkippedSteps);                 // batches 0 and 1 were fine
        Assert.Equal(2, logged[^1].SkippedSteps);            // the count is in metrics.jsonl
    }

    /// <summary>The causal-LM loss plus a term that is 0 in the forward pass and NaN in the backward (d sqrt|x| at x = 0) on chosen calls.</summary>
    sealed class PoisonedGradientObjective(CausalLmObjective inner, Parameter target, HashSet<int> poisonedCalls) : ITrainingObjective
    {
        int calls;
        public nn.Module Model => inner.Model;
        public bool GradientCheckpointing { set => inner.GradientCheckpointing = value; }
        public Tensor Loss(TrainingBatch batch)
        {
            var loss = inner.Loss(batch);
            return poisonedCalls.Contains(calls++) ? loss + (target - target.detach()).abs().sqrt().sum() : loss;
        }
        public long Targets(TrainingBatch batch) => inner.Targets(batch);
        public long Tokens(TrainingBatch batch) => inner.Tokens(batch);
        public EvalResult Evaluate(IBatchSource source) => inner.Evaluate(source);
        public void SaveModel(string folder, IReadOnlyDictionary<string, string>? extraFiles, bool overwrite) => inner.SaveModel(folder, extraFiles, overwrite);
        public void LoadModel(string folder) => inner.LoadModel(folder);
        public IReadOnlyDictionary<string, string> AdapterFolderFiles => inner.AdapterFolderFiles;
    }

    [Fact]
    public void A_step_whose_loss_is_finite_but_whose_gradient_is_not_is_skipped_too()
    {
        var warnings = new List<string>();
        using var redirect = Diagnostics.RedirectWarnings(warnings.Add);
        var model = TinyModels.Random(TinyModels.Config(), seed: 3);
        var peft = PeftModel.Create(model, new LoraConfig { R = 4, TargetModules = new[] { "q_proj", "v_proj" } }, seed: 1);
        using var dir = Fixtures.NewTempDir();
        var objective = new PoisonedGradientObjective(new CausalLmObjective(model, chunkedLoss: false), peft.TrainableParameters().First(), new HashSet<int> { 2 });
        var options = new TrainerOptions { OutputDir = dir.Path, MaxSteps = 5, MaxBadSteps = 3, LoggingSteps = 1, TensorBoard = false, LearningRate = 1e-3 };
        var result = new Trainer(options, objective, peft, new PoisonedSource(model, 10, new HashSet<int>()), null).Run(TestContext.Current.CancellationToken);
        Assert.Equal(5, result.Steps);
        Assert.Equal(1, result.SkippedSteps);
        Assert.Single(warnings, w => w.Contains("non-finite loss or gradient"));
        Assert.All(peft.TrainableParameters(), p => Assert.True(p.isfinite().all().item<bool>()));
    }

    [Fact]
    public void Consecutive_non_finite_steps_stop_the_run_and_keep_the_last_good_checkpoint()
    {
        using var quiet = Diagnostics.RedirectWarnings(_ => { });
        var (trainer, dir, peft) = Setup(new HashSet<int> { 2, 3, 4, 5, 6, 7, 8, 9 }, maxBad: 3, steps: 8, saveSteps: 1);
        using var __ = dir;
        var e = Assert.Throws<PeftSharpException>(() => trainer.Run(TestContext.Current.CancellationToken));
        Assert.Contains("3 consecutive steps", e.Message);
        Assert.Contains("learning rate", e.Message);
        // Steps 1 and 2 were good and saved; the run ended there, with no final adapter written over it.
        var store = new CheckpointStore(dir.Path, 2);
        var last = store.Resolve("latest")!;
        Assert.EndsWith("checkpoint-2", last);
        Assert.Equal(2, TrainerState.Load(Path.Combine(last, "trainer_state.json")).GlobalStep);
        AdapterFolder.LoadWeights(peft, "default", last);
        Assert.All(peft.TrainableParameters(), p => Assert.False(p.isnan().any().item<bool>()));
        Assert.False(File.Exists(Path.Combine(dir.Path, AdapterFolder.WeightsFile)));
    }
}

public class EarlyStoppingTests
{
    internal sealed class FixedSource(int count) : IBatchSource
    {
        public int BatchesPerEpoch => count;

        public IEnumerable<TrainingBatch> Epoch(int epoch)
        {
            var rng = new Random(7);
            for (int i = 0; i < count; i++)
            {
                var ids = Enumerable.Range(0, 12).Select(_ => (long)rng.Next(97)).ToArray();
                yield return new TrainingBatch(tensor(ids).unsqueeze(0), tensor(ids).unsqueeze(0));
            }
        }
    }

    [Fact]
    public void Training_stops_when_eval_loss_stops_improving()
    {
        var model = TinyModels.Random(TinyModels.Config(), seed: 3);
        var peft = PeftModel.Create(model, new LoraConfig { R = 4, TargetModules = new[] { "q_proj" } }, seed: 1);
        using var dir = Fixtures.NewTempDir();
        // A learning rate too small to move the eval loss: the first evaluation after training starts does not improve.
        var options = new TrainerOptions { OutputDir = dir.Path, MaxSteps = 10, EvalSteps = 1, EarlyStoppingPatience = 1, LearningRate = 1e-30, TensorBoard = false };
        var result = new Trainer(options, model, peft, new FixedSource(10), new FixedSource(2)).Run(TestContext.Current.CancellationToken);
        Assert.True(result.StoppedEarly);
        Assert.Equal(1, result.Steps);
    }
}
