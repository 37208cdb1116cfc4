using PeftSharp.Adapters.AdaLora;
using PeftSharp.Adapters.Ia3;
using PeftSharp.Adapters.Lora;
using PeftSharp.Models;
using PeftSharp.Nn.Quantized;
using PeftSharp.Peft;
using PeftSharp.Tests.Support;
using PeftSharp.Training;
using PeftSharp.Training.Batches;
using TorchSharp;

namespace PeftSharp.Tests.Nn;

/// <summary>
/// Device placement, checked without a GPU: a model placed on torch's "meta" device (shapes and devices, no data)
/// loads, quantizes and takes adapters there, with nothing left behind on the CPU. (libtorch 2.10 has no meta kernel
/// for index_select, so a forward pass cannot run on meta; the forward code takes every device from its inputs.)
/// The default device is process-wide while a model is built, so these tests run alone.
/// </summary>
[Collection(GlobalRngCollection.Name)]
public sealed class DevicePlacementTests
{
    static readonly Device Meta = new(DeviceType.META);

    static string SavedTinyModel(TempDir tmp)
    {
        var dir = Path.Combine(tmp.Path, Guid.NewGuid().ToString("N"));
        ModelFolderWriter.Save(TinyModels.Random(TinyModels.Config(tied: true), seed: 3), dir);
        return dir;
    }

    static void AssertAllOn(nn.Module model, DeviceType type) =>
        Assert.All(model.named_parameters(), p => Assert.True(p.parameter.device_type == type, $"{p.name} is on {p.parameter.device_type}"));

    [Theory]
    [InlineData("none")]
    [InlineData("nf4")]
    [InlineData("int8")]
    public void A_model_on_another_device_loads_quantizes_and_takes_lora_there(string quant)
    {
        using var tmp = Fixtures.NewTempDir();
        var q = quant switch
        {
            "nf4" => new QuantizationConfig { LoadIn4Bit = true, Bnb4BitQuantType = "nf4", Bnb4BitUseDoubleQuant = true, Bnb4BitBlockSize = 32 },
            "int8" => new QuantizationConfig { LoadIn8Bit = true },
            _ => null,
        };
        using var lm = PretrainedCausalLM.Load(SavedTinyModel(tmp), new ModelLoadOptions { Device = Meta, Quantization = q });
        var model = lm.Model;
        AssertAllOn(model, DeviceType.META);
        Assert.Equal(DeviceType.CPU, get_default_device().type); // the build-time scope was undone
        // Tied weights stay one tensor on the device.
        Assert.Equal(model.model.embed_tokens.weight.Handle, model.lm_head.weight.Handle);
        if (q is not null)
            Assert.All(model.model.layers.First().modules().OfType<PeftSharp.Nn.Linear>(), l => Assert.Equal(DeviceType.META, l.Quantized!.Device.type));

        var peft = PeftModel.Create(model, new LoraConfig { R = 4, LoraAlpha = 8, TargetRegex = LoraConfig.AllLinear });
        AssertAllOn(model, DeviceType.META);

        using var batch = new TrainingBatch(TinyModels.Ids([1, 5, 7, 9], [1, 4, 4, 2]), TinyModels.Ids([1, 5, 7, 9], [1, 4, 4, 2]));
        var onDevice = DeviceBatchSource.For(new OneBatch(batch), model).Epoch(0).Single();
        Assert.Equal(DeviceType.META, onDevice.InputIds.device_type);
        Assert.Equal(DeviceType.META, onDevice.Labels.device_type);
        onDevice.Dispose();
        Assert.Equal(DeviceType.CPU, batch.InputIds.device_type);
    }

    [Fact]
    public void Adapters_that_register_bare_parameters_follow_their_host_to_its_device()
    {
        using var tmp = Fixtures.NewTempDir();
        using var lm = PretrainedCausalLM.Load(SavedTinyModel(tmp), new ModelLoadOptions { Device = Meta });
        PeftModel.Create(lm.Model, new Ia3Config { TargetModules = Ia3Config.LlamaTargets, FeedForwardModules = Ia3Config.LlamaFeedForward });
        AssertAllOn(lm.Model, DeviceType.META);
        using var lm2 = PretrainedCausalLM.Load(SavedTinyModel(tmp), new ModelLoadOptions { Device = Meta });
        PeftModel.Create(lm2.Model, new AdaLoraConfig { InitR = 4, TargetR = 2, TotalStep = 10, TargetRegex = LoraConfig.AllLinear });
        AssertAllOn(lm2.Model, DeviceType.META);
    }

    [Theory]
    [InlineData("cpu")]
    [InlineData(" CPU ")]
    public void The_cpu_is_spelled_as_users_spell_it(string spec) => Assert.Equal(DeviceType.CPU, ComputeDevice.Parse(spec).type);

    [Fact]
    public void Auto_is_the_cpu_when_torch_sees_no_gpu()
    {
        Assert.SkipWhen(cuda.is_available(), "a GPU is visible here");
        Assert.Equal(DeviceType.CPU, ComputeDevice.Parse("auto").type);
    }

    [Fact]
    public void A_gpu_asked_for_without_one_names_the_build_switch_and_the_cpu_fallback()
    {
        Assert.SkipWhen(cuda.is_available(), "a GPU is visible here");
        var e = Assert.Throws<ConfigurationException>(() => ComputeDevice.Parse("cuda:0"));
        Assert.Contains("PeftSharpTorchBackend=cuda", e.Message);
        Assert.Contains("--device cpu", e.Message);
    }

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda:x")]
    [InlineData("mps")]
    public void An_unknown_device_lists_the_spellings(string spec)
    {
        var e = Assert.Throws<ConfigurationException>(() => ComputeDevice.Parse(spec));
        Assert.Contains("cpu, cuda, cuda:N or auto", e.Message);
    }

    sealed class OneBatch(TrainingBatch batch) : IBatchSource
    {
        public int BatchesPerEpoch => 1;
        public IEnumerable<TrainingBatch> Epoch(int epoch) { yield return batch.To(CPU); }
    }
}
