using PeftSharp.Adapters.Lora;
using PeftSharp.Generation;
using PeftSharp.Peft;
using PeftSharp.Models;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Cli;

/// <summary>The README's library example, as written there (with the fixture path resolved).</summary>
public class ReadmeExampleTests
{
    [Fact]
    public void Library_example_generates_the_story()
    {
        var folder = Fixtures.Require("models", "stories260K");
        using var lm = PretrainedCausalLM.Load(folder);
        var prompt = lm.Tokenizer!.Encode("Once upon a time");
        var result = new TextGenerator(lm.Model).Generate(prompt,
            new SamplingOptions { MaxNewTokens = 50, StopTokenIds = lm.StopTokenIds() });
        var text = lm.Tokenizer.Decode(prompt.Concat(result.NewIds));
        Assert.StartsWith("Once upon a time, there was a little girl named Lily.", text);
    }

    [Fact]
    public void Lora_example_reports_saves_merges_and_exports()
    {
        var folder = Fixtures.Require("models", "stories260K");
        using var tmp = Fixtures.NewTempDir();
        using var lm = PretrainedCausalLM.Load(folder);
        var peft = PeftModel.Create(lm.Model, new LoraConfig
        {
            R = 16, LoraAlpha = 32, LoraDropout = 0.05,
            TargetRegex = LoraConfig.AllLinear,
            UseDora = false, UseRslora = false,
        });
        Assert.StartsWith("trainable params: 92,480 || all params: 352,512", peft.TrainableReport());
        AdapterFolder.Save(peft, tmp.File("my-adapter"), baseModelNameOrPath: "stories260K");
        peft.MergeAndUnload();
        ModelFolderWriter.Save(lm.Model, tmp.File("merged-model"));
        Assert.True(File.Exists(Path.Combine(tmp.File("my-adapter"), "adapter_model.safetensors")));
        using var merged = PretrainedCausalLM.Load(tmp.File("merged-model"));
        Assert.Equal(5, merged.Config.NumHiddenLayers);
    }
}
