using PeftSharp.Quantization;
using PeftSharp.Training.Optimization;
using TorchSharp.Modules;

namespace PeftSharp.Tests.Training;

public class AdamW8BitTests
{
    static List<(string, Parameter)> LoraShaped(int layers)
    {
        var list = new List<(string, Parameter)>();
        for (int i = 0; i < layers; i++)
        {
            list.Add(($"layers.{i}.q_proj.lora_A.weight", new Parameter(randn(16, 4096))));
            list.Add(($"layers.{i}.q_proj.lora_B.weight", new Parameter(randn(4096, 16))));
        }
        return list;
    }

    [Fact]
    public void State_memory_is_under_0_3x_of_fp32_AdamW_for_lora_shaped_parameters()
    {
        var parameters = LoraShaped(4);
        using var fp32 = new AdamWOptimizer(parameters);
        using var q8 = new AdamW8BitOptimizer(parameters);
        double ratio = (double)q8.StateBytes / fp32.StateBytes;
        TestContext.Current.TestOutputHelper?.WriteLine($"fp32 state {fp32.StateBytes} B, 8-bit state {q8.StateBytes} B, ratio {ratio:F4}");
        Assert.True(ratio <= 0.3, $"ratio {ratio}");
        // 1 byte per element per moment + one fp32 absmax per 2048-element block.
        Assert.Equal(8 * 2 * (65536 + 32 * 4), q8.StateBytes);
        foreach (var (_, p) in parameters) p.Dispose();
    }

    [Fact]
    public void Loss_after_200_steps_is_within_2_percent_of_fp32_AdamW()
    {
        using var a = new TrainingProblem();
        using var b = new TrainingProblem();
        var options = new AdamWOptions { LearningRate = 3e-3, WeightDecay = 0.01 };
        using var fp32 = new AdamWOptimizer(a.Named(), options);
        using var q8 = new AdamW8BitOptimizer(b.Named(), options);
        var lossFp32 = a.Train(fp32, 200);
        var loss8 = b.Train(q8, 200);
        double rel = Math.Abs(loss8[^1] - lossFp32[^1]) / lossFp32[^1];
        var log = TestContext.Current.TestOutputHelper;
        foreach (int i in new[] { 0, 10, 50, 100, 150, 199 })
            log?.WriteLine($"step {i,3}: fp32 {lossFp32[i]:F6}  8-bit {loss8[i]:F6}");
        log?.WriteLine($"final relative difference {rel:P3}");
        Assert.True(lossFp32[^1] < 0.5 * lossFp32[0], "the problem is actually being optimized");
        Assert.True(rel <= 0.02, $"final losses {lossFp32[^1]} vs {loss8[^1]} differ by {rel:P2}");
        // fc1.weight (8192 elements) is quantized, the rest (< 4096) keeps fp32 state.
        var state = q8.StateDict();
        Assert.Equal(ScalarType.Byte, state["fc1.weight.exp_avg"].dtype);
        Assert.Equal(ScalarType.Byte, state["fc1.weight.exp_avg_sq"].dtype);
        Assert.Equal(new long[] { 4 }, state["fc1.weight.exp_avg.absmax"].shape);
        Assert.Equal(ScalarType.Float32, state["fc2.weight.exp_avg"].dtype);
        Assert.False(state.ContainsKey("fc2.weight.exp_avg.absmax"));
        foreach (var t in state.Values) t.Dispose();
    }

    [Fact]
    public void Quantized_moments_track_fp32_moments()
    {
        using var a = new TrainingProblem();
        using var b = new TrainingProblem();
        using var fp32 = new AdamWOptimizer(a.Named());
        using var q8 = new AdamW8BitOptimizer(b.Named());
        a.Train(fp32, 5);
        b.Train(q8, 5);
        var s32 = fp32.StateDict();
        var s8 = q8.StateDict();
        foreach (var (moment, code) in new[] { ("exp_avg", Codebooks.DynamicSigned8Bit), ("exp_avg_sq", Codebooks.DynamicUnsigned8Bit) })
        {
            using var state = new QuantState8Bit(s8[$"fc1.weight.{moment}"], s8[$"fc1.weight.{moment}.absmax"], Blockwise8Bit.DefaultBlockSize, code);
            using var decoded = state.Dequantize();
            var reference = s32[$"fc1.weight.{moment}"];
            double rel = ((decoded - reference).norm() / reference.norm()).item<float>();
            TestContext.Current.TestOutputHelper?.WriteLine($"{moment}: relative L2 error {rel:E2}");
            Assert.True(rel < 0.05, $"{moment} relative error {rel}");
        }
        foreach (var t in s32.Values.Concat(s8.Values)) t.Dispose();
    }

    [Fact]
    public void Unsigned_dynamic_map_has_bnb_structure()
    {
        var map = Codebooks.DynamicUnsigned8Bit;
        Assert.Equal(256, map.Count);
        for (int i = 1; i < 256; i++) Assert.True(map[i - 1] < map[i], "sorted, distinct");
        Assert.Equal(0f, map[0]);
        Assert.Equal(1f, map[255]);
        // Exponent 0 has two fraction items: means of linspace(0.1, 1, 3) = 0.325, 0.775, times 1e-6.
        Assert.Equal(0.325e-6f, map[1], 1e-12f);
        Assert.Equal(0.775e-6f, map[2], 1e-12f);
        // Exponent 6 (scale 1) has 128 items; the largest is the mean of 0.99296875 and 1.
        Assert.Equal(0.996484375f, map[254], 1e-7f);
        Assert.Equal(128, map.Count(v => v > 0.1f && v < 1f));
        // Signed map unchanged by the refactor.
        Assert.Equal(-0.99296875f, Codebooks.DynamicSigned8Bit[0]);
    }
}
