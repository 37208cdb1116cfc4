using PeftSharp.Adapters.Lora;
using PeftSharp.IO;
using PeftSharp.Models;
using PeftSharp.Models.Llama;
using PeftSharp.Nn;
using PeftSharp.Nn.Quantized;
using PeftSharp.Peft;
using PeftSharp.Quantization;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Nn;

public class QuantizedLinearTests
{
    static PeftSharp.Nn.Linear RandomLinear(int inF, int outF, bool bias, long seed)
    {
        var l = new PeftSharp.Nn.Linear(inF, outF, bias);
        TinyModels.Randomize(l, seed);
        return l;
    }

    public static TheoryData<string> Formats => new() { "nf4", "nf4-dq", "fp4", "int8" };

    static IQuantizedWeight Quantize(Tensor w, string format) => format switch
    {
        "nf4" => FourBitWeight.Quantize(w, QuantType.Nf4, 64, false, ScalarType.Float32),
        "nf4-dq" => FourBitWeight.Quantize(w, QuantType.Nf4, 64, true, ScalarType.Float32),
        "fp4" => FourBitWeight.Quantize(w, QuantType.Fp4, 64, false, ScalarType.Float32),
        _ => new EightBitWeight(Int8Quantizer.Quantize(w), 0),
    };

    [Theory]
    [MemberData(nameof(Formats))]
    public void Input_gradients_through_a_quantized_linear_equal_those_of_the_dequantized_dense_linear(string format)
    {
        var q = RandomLinear(128, 48, bias: true, seed: 3);
        q.SetQuantized(Quantize(q.weight.detach().clone(), format));
        Assert.Equal(0, q.weight.numel());                        // the dense storage is gone
        var dense = new PeftSharp.Nn.Linear(128, 48, true);
        using (no_grad())
        {
            dense.weight.copy_(q.Quantized!.Dequantize(ScalarType.Float32));
            dense.bias!.copy_(q.bias!);
        }
        using var gen = new Generator().manual_seed(1);
        var x1 = randn(new long[] { 2, 5, 128 }, generator: gen).requires_grad_(true);
        var x2 = x1.detach().clone().requires_grad_(true);
        var upstream = randn(new long[] { 2, 5, 48 }, generator: gen);
        var y1 = q.forward(x1);
        var y2 = dense.forward(x2);
        // int8 runs the LLM.int8 matmul (quantized activations), the 4-bit formats a dense matmul on the dequantized weight.
        double fwdTol = format == "int8" ? 0.05 : 1e-5;
        Assert.True((y1 - y2).abs().max().item<float>() < fwdTol * y2.abs().max().item<float>());
        (y1 * upstream).sum().backward();
        (y2 * upstream).sum().backward();
        Assert.True(x1.grad!.allclose(x2.grad!, rtol: 1e-5, atol: 1e-5), $"max diff {(x1.grad! - x2.grad!).abs().max().item<float>()}");
        Assert.True(q.bias!.grad!.allclose(dense.bias!.grad!, rtol: 1e-5, atol: 1e-5));
        Assert.Null(q.weight.grad);
    }

    [Fact]
    public void Lora_trains_on_a_4bit_base_and_the_loss_falls()
    {
        var model = TinyModels.Random(TinyModels.Config(), seed: 5);
        foreach (var (name, m) in model.named_modules())
            if (m is PeftSharp.Nn.Linear l && name != "lm_head") l.SetQuantized(Quantize(l.weight.detach().clone(), "nf4-dq"));
        var peft = PeftModel.Create(model, new LoraConfig { R = 8, LoraAlpha = 16, TargetRegex = LoraConfig.AllLinear }, seed: 2);
        Assert.All(model.named_parameters().Where(p => p.parameter.requires_grad), p => Assert.Contains("lora_", p.name));
        var ids = TinyModels.Ids(new long[] { 1, 5, 9, 14, 20, 27, 35, 44, 54, 65, 77, 90 });
        var optimizer = optim.AdamW(peft.TrainableParameters(), lr: 1e-2);
        double Step()
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var logits = model.Forward(ids.narrow(1, 0, 11));
            var loss = nn.functional.cross_entropy(logits.reshape(-1, 97), ids.narrow(1, 1, 11).reshape(-1));
            loss.backward();
            optimizer.step();
            return loss.item<float>();
        }
        double first = Step();
        double last = first;
        for (int i = 0; i < 30; i++) last = Step();
        Assert.True(last < 0.5 * first, $"loss {first:F3} -> {last:F3}");
        Assert.All(model.named_modules().Select(m => m.module).OfType<PeftSharp.Nn.Linear>().Where(l => l.Quantized is not null),
            l => Assert.Equal(0, l.weight.numel()));
    }

    [Theory]
    [InlineData("nf4", true)]
    [InlineData("fp4", false)]
    [InlineData("int8", false)]
    public void A_model_quantized_on_load_saves_in_bitsandbytes_layout_and_loads_back_identically(string type, bool doubleQuant)
    {
        var model = TinyModels.Random(TinyModels.Config(tied: false), seed: 7);
        using var tmp = Fixtures.NewTempDir();
        var dense = Path.Combine(tmp.Path, "dense");
        ModelFolderWriter.Save(model, dense);
        var q = type == "int8"
            ? new QuantizationConfig { LoadIn8Bit = true }
            : new QuantizationConfig { LoadIn4Bit = true, Bnb4BitQuantType = type, Bnb4BitUseDoubleQuant = doubleQuant, Bnb4BitBlockSize = 32 };
        using var quantized = PretrainedCausalLM.Load(dense, new ModelLoadOptions { Quantization = q });
        var linears = quantized.Model.named_modules().Where(m => m.module is PeftSharp.Nn.Linear).ToList();
        Assert.All(linears.Where(m => m.name != "lm_head"), m => Assert.Equal(type, ((PeftSharp.Nn.Linear)m.module).Quantized!.Format));
        Assert.Null(((PeftSharp.Nn.Linear)linears.Single(m => m.name == "lm_head").module).Quantized);   // the head stays dense
        Assert.Equal(ScalarType.Float32, quantized.Model.model.norm.weight.dtype);                            // norms stay dense

        var saved = Path.Combine(tmp.Path, "quantized");
        ModelFolderWriter.Save(quantized.Model, saved);
        using (var file = PeftSharp.IO.SafeTensors.SafeTensorsCheckpoint.Open(saved))
        {
            var p = "model.layers.0.self_attn.q_proj.";
            if (type == "int8")
            {
                Assert.Equal(TensorDType.I8, file.GetInfo(p + "weight").DType);
                Assert.True(file.Contains(p + "SCB"));
            }
            else
            {
                Assert.Equal(TensorDType.U8, file.GetInfo(p + "weight").DType);
                Assert.True(file.Contains(p + "weight.quant_state.bitsandbytes__" + type));
                Assert.Equal(doubleQuant, file.Contains(p + "weight.nested_absmax"));
            }
        }
        Assert.Contains("\"quantization_config\"", File.ReadAllText(Path.Combine(saved, "config.json")));
        using var reloaded = PretrainedCausalLM.Load(saved);
        var ids = TinyModels.Ids(new long[] { 1, 4, 9, 16, 25 });
        using var _ = no_grad();
        Assert.Equal(0f, (quantized.Model.Forward(ids) - reloaded.Model.Forward(ids)).abs().max().item<float>());
        // Close to the dense model, not equal: relative L2 error of the logits.
        var dense0 = model.Forward(ids);
        var rel = ((quantized.Model.Forward(ids) - dense0).norm().item<float>() / dense0.norm().item<float>());
        Assert.InRange(rel, 1e-6, type == "int8" ? 0.05 : 0.75); // a random 2-layer model amplifies 4-bit noise; quality is measured on stories260K
    }

    [Fact]
    public void Merging_into_a_4bit_base_warns_and_requantizes()
    {
        var model = TinyModels.Random(TinyModels.Config(), seed: 8);
        foreach (var (name, m) in model.named_modules())
            if (m is PeftSharp.Nn.Linear l && name != "lm_head") l.SetQuantized(Quantize(l.weight.detach().clone(), "nf4"));
        var peft = PeftModel.Create(model, new LoraConfig { TargetModules = new[] { "q_proj" }, InitLoraWeights = "false" }, seed: 1);
        var ids = TinyModels.Ids(new long[] { 1, 2, 3, 4 });
        Tensor adapted;
        using (no_grad()) adapted = model.Forward(ids);
        var warnings = new List<string>();
        using (Diagnostics.RedirectWarnings(warnings.Add)) peft.Merge();
        Assert.Contains(warnings, w => w.Contains("re-quantized"));
        using var _ = no_grad();
        var merged = model.Forward(ids);
        var d = (merged - adapted).abs().max().item<float>();
        Assert.True(d > 0 && d < 0.5, $"merged-vs-adapted difference {d}: rounding, but small");
        Assert.Equal("nf4", model.model.layers[0].self_attn.q_proj.Quantized!.Format);
    }
}
