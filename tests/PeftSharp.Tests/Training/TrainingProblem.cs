using PeftSharp.Training.Optimization;
using TorchSharp.Modules;

namespace PeftSharp.Tests.Training;

/// <summary>
/// A small seeded regression MLP (fc1 64->128 with bias, a norm-like gain, fc2 128->8) on 4096 samples of a random
/// teacher plus noise (std 0.3, so the loss levels off near 0.09 instead of memorizing noise): fc1.weight (8192 elements) gets 8-bit state, and 200
/// steps take well under a second.
/// </summary>
internal sealed class TrainingProblem : IDisposable
{
    readonly Tensor x, y;
    public Parameter Fc1 { get; }
    public Parameter Fc1Bias { get; }
    public Parameter NormWeight { get; }
    public Parameter Fc2 { get; }

    public TrainingProblem(long seed = 1)
    {
        var gen = new Generator((ulong)seed);
        var data = new Generator(1234);
        x = randn(new long[] { 4096, 64 }, generator: data);
        var teacher1 = randn(new long[] { 128, 64 }, generator: data) / 8;
        var teacher2 = randn(new long[] { 8, 128 }, generator: data) / 11;
        y = tanh(x.matmul(teacher1.t())).matmul(teacher2.t()) + 0.3 * randn(new long[] { 4096, 8 }, generator: data);
        Fc1 = new Parameter(randn(new long[] { 128, 64 }, generator: gen) / 8);
        Fc1Bias = new Parameter(zeros(128));
        NormWeight = new Parameter(ones(128));
        Fc2 = new Parameter(randn(new long[] { 8, 128 }, generator: gen) / 11);
    }

    public IEnumerable<(string Name, Parameter Param)> Named() =>
    [
        ("fc1.weight", Fc1), ("fc1.bias", Fc1Bias), ("norm.weight", NormWeight), ("fc2.weight", Fc2),
    ];

    public IEnumerable<Parameter> Params => Named().Select(p => p.Param);

    /// <summary>Forward + backward; leaves gradients on the parameters and returns the loss.</summary>
    public double Backward()
    {
        using var scope = NewDisposeScope();
        var h = tanh(x.matmul(Fc1.t()) + Fc1Bias) * NormWeight;
        var loss = nn.functional.mse_loss(h.matmul(Fc2.t()), y);
        loss.backward();
        return loss.item<float>();
    }

    /// <summary>Runs <paramref name="steps"/> optimizer steps, setting the lr from the schedule first; returns the losses.</summary>
    public List<double> Train(ITrainingOptimizer optimizer, int steps, LrSchedule? schedule = null)
    {
        var losses = new List<double>();
        for (int i = 0; i < steps; i++)
        {
            schedule?.Apply(optimizer, (int)optimizer.StepCount);
            optimizer.ZeroGrad();
            losses.Add(Backward());
            optimizer.Step();
        }
        return losses;
    }

    /// <summary>Copies the parameter values of <paramref name="other"/> into this problem.</summary>
    public void CopyFrom(TrainingProblem other)
    {
        using var noGrad = no_grad();
        foreach (var ((_, mine), (_, theirs)) in Named().Zip(other.Named())) mine.copy_(theirs);
    }

    public static void AssertBitwiseEqual(TrainingProblem a, TrainingProblem b)
    {
        foreach (var ((name, pa), (_, pb)) in a.Named().Zip(b.Named()))
            Assert.True(Same(pa, pb), $"{name} differs: max |diff| {(pa - pb).abs().max().item<float>()}");
    }

    /// <summary>Same shape and every element bitwise equal (no NaNs expected here).</summary>
    public static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.dtype == b.dtype && a.eq(b).all().item<bool>();

    public void Dispose()
    {
        foreach (var p in Params) p.Dispose();
        x.Dispose();
        y.Dispose();
    }
}
