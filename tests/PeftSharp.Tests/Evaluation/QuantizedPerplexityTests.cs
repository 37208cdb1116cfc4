using PeftSharp.Evaluation;
using PeftSharp.Models;
using PeftSharp.Nn.Quantized;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Evaluation;

/// <summary>The real stories260K on tinyshakespeare (first 10k tokens, windows of 512) in each storage format.</summary>
public class QuantizedPerplexityTests
{
    static double Ppl(string model, IReadOnlyList<int> tokens, QuantizationConfig? q, string dtype = "auto")
    {
        using var lm = PretrainedCausalLM.Load(model, new ModelLoadOptions { Quantization = q, DType = dtype });
        return Perplexity.Compute(lm.Model, tokens, 512).Perplexity;
    }

    [Fact]
    public void Int8_is_within_1_percent_and_NF4_within_10_percent_of_fp32()
    {
        var model = Fixtures.Require("models", "stories260K");
        var text = File.ReadAllText(Fixtures.Require("data", "tinyshakespeare.txt"));
        using var lm = PretrainedCausalLM.Load(model);
        var tokens = lm.Tokenizer!.Encode(text).Take(10_000).ToList();
        double fp32 = Perplexity.Compute(lm.Model, tokens, 512).Perplexity;
        double bf16 = Ppl(model, tokens, null, "bfloat16");
        double int8 = Ppl(model, tokens, new QuantizationConfig { LoadIn8Bit = true });
        double nf4 = Ppl(model, tokens, new QuantizationConfig { LoadIn4Bit = true, Bnb4BitQuantType = "nf4" });
        double nf4dq = Ppl(model, tokens, new QuantizationConfig { LoadIn4Bit = true, Bnb4BitQuantType = "nf4", Bnb4BitUseDoubleQuant = true });
        double fp4 = Ppl(model, tokens, new QuantizationConfig { LoadIn4Bit = true, Bnb4BitQuantType = "fp4" });
        var table = $"fp32 {fp32:F3}, bf16 {bf16:F3}, int8 {int8:F3}, nf4 {nf4:F3}, nf4+dq {nf4dq:F3}, fp4 {fp4:F3}";
        Assert.True(Math.Abs(bf16 / fp32 - 1) < 0.01, table);
        Assert.True(Math.Abs(int8 / fp32 - 1) < 0.01, table);
        Assert.True(Math.Abs(nf4 / fp32 - 1) < 0.10, table);
        Assert.True(Math.Abs(nf4dq / fp32 - 1) < 0.10, table);
        Assert.True(nf4 < fp4, "NF4 should beat FP4 on normally distributed weights: " + table);
    }
}
