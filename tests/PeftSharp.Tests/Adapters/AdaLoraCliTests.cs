using PeftSharp.Adapters.AdaLora;
using PeftSharp.Models;
using PeftSharp.Peft;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Adapters;

/// <summary>`peftsharp train` with `adapter: adalora` on stories260K, 4-bit base, then the output folder loaded back.</summary>
[Collection(GlobalRngCollection.Name)]
public class AdaLoraCliTests
{
    [Fact]
    public void A_short_AdaLoRA_run_saves_a_folder_with_rank_pattern_that_loads_back()
    {
        var model = Fixtures.Require("models", "stories260K");
        using var tmp = Fixtures.NewTempDir();
        File.WriteAllText(tmp.File("slice.txt"), File.ReadAllText(Fixtures.Require("data", "tinyshakespeare.txt"))[..6_000]);
        var output = Path.Combine(tmp.Path, "run");
        var yaml = $"""
            base_model: {model}
            adapter: adalora
            load_in_4bit: true
            adalora:
              init_r: 4
              target_r: 2
              tinit: 1
              tfinal: 2
              deltaT: 1
              beta1: 0.85
              beta2: 0.85
              orth_reg_weight: 0.5
              lora_alpha: 8
              lora_dropout: 0.0
              target_modules: [q_proj, v_proj]
            datasets:
              - path: {tmp.File("slice.txt")}
                format: text
                text_split: paragraph
            sequence_len: 32
            micro_batch_size: 2
            max_steps: 6
            learning_rate: 1.0e-2
            logging_steps: 1
            save_steps: 3
            tensorboard: false
            output_dir: {output}
            """;
        File.WriteAllText(tmp.File("cfg.yaml"), yaml);
        var r = CliRunner.Run("train", tmp.File("cfg.yaml"));
        Assert.True(r.ExitCode == 0, r.Err + r.Out);
        Assert.Contains("adalora_budget", File.ReadAllText(Path.Combine(output, "metrics.jsonl")));

        var config = Assert.IsType<AdaLoraConfig>(AdapterFolder.ReadConfig(output));
        Assert.Equal(6, config.TotalStep);                        // taken from the run's max_steps
        Assert.Equal(10, config.RankPattern!.Count);              // q_proj and v_proj in 5 layers
        Assert.Equal(2 * 10, config.RankPattern.Values.Sum(v => v.Count(k => k)));

        using var lm = PretrainedCausalLM.Load(model);
        var peft = AdapterFolder.Load(lm.Model, output);
        var layers = peft.Adapters["default"].Of<AdaLoraLinear>().ToList();
        Assert.Equal(10, layers.Count);
        Assert.All(layers, l => Assert.Equal(config.RankPattern[l.Path + ".lora_E"].Count(k => k), l.Adapter.Rank));

        var inspect = CliRunner.Run("inspect", "-m", model, "--adapter", output);
        Assert.True(inspect.ExitCode == 0, inspect.Err);
        Assert.Contains("AdaLoRA, init_r 4 -> target_r 2", inspect.Out);
        Assert.Contains("rank_pattern keeps 20 of 40 ranks", inspect.Out);
    }
}
