using PeftSharp.IO.SafeTensors;
using PeftSharp.Peft;
using PeftSharp.Tests.Support;
using PeftSharp.Training;

namespace PeftSharp.Tests.Reliability;

/// <summary>A small LoRA run on the stories260K fixture that the crash tests start, kill and resume, and the checks they make.</summary>
static class TrainingRunKit
{
    /// <summary>Writes a short text dataset and a config that trains <paramref name="steps"/> steps with a checkpoint every 2.</summary>
    public static string WriteConfig(string dir, string outputDir, int steps, int saveTotalLimit = 2)
    {
        var model = Fixtures.Require("models", "stories260K");
        var words = "the cat sat on a mat and looked at the big red sun while a dog ran far away from home".Split(' ');
        var rng = new Random(1);
        var data = Path.Combine(dir, "data.jsonl");
        if (!File.Exists(data))
            File.WriteAllLines(data, Enumerable.Range(0, 48).Select(_ =>
                System.Text.Json.JsonSerializer.Serialize(new { text = string.Join(' ', Enumerable.Range(0, 30).Select(_ => words[rng.Next(words.Length)])) })));
        var config = Path.Combine(dir, $"config-{Path.GetFileName(outputDir)}.yaml");
        File.WriteAllText(config, $"""
            base_model: {model}
            adapter: lora
            lora:
              r: 4
              lora_alpha: 8
              lora_dropout: 0.1
              target_modules: all-linear
            datasets:
              - path: {data}
            val_set_size: 0.1
            sequence_len: 64
            max_steps: {steps}
            micro_batch_size: 2
            learning_rate: 1.0e-3
            save_steps: 2
            save_total_limit: {saveTotalLimit}
            eval_steps: 4
            logging_steps: 1
            seed: 7
            output_dir: {outputDir}
            """);
        return config;
    }

    /// <summary>Every checkpoint in <paramref name="outputDir"/> loads completely, and "latest" names one that exists.</summary>
    public static void AssertCheckpointsLoad(string outputDir)
    {
        var store = new CheckpointStore(outputDir, 2);
        foreach (var (step, path) in store.List())
        {
            Assert.Equal(step, TrainerState.Load(Path.Combine(path, "trainer_state.json")).GlobalStep);
            AdapterFolder.ReadConfig(path);
            foreach (var file in Directory.GetFiles(path, "*.safetensors"))
            {
                using var st = SafeTensorsFile.Open(file);
                foreach (var name in st.Keys)
                    using (var t = st.Load(name)) Assert.True(t.numel() >= 0);
            }
        }
        var latest = Path.Combine(outputDir, CheckpointStore.LatestFile);
        if (File.Exists(latest)) Assert.True(Directory.Exists(Path.Combine(outputDir, File.ReadAllText(latest).Trim())), "latest names a missing checkpoint");
        MetricsLog.Read(MetricsLog.PathIn(outputDir)).ToList(); // a torn last line is tolerated, anything else throws
    }

    /// <summary>The files a finished run leaves at the root of its output folder, by name.</summary>
    public static Dictionary<string, byte[]> FinalAdapter(string outputDir) =>
        new[] { AdapterFolder.WeightsFile, AdapterFolder.ConfigFile }.ToDictionary(f => f, f => File.ReadAllBytes(Path.Combine(outputDir, f)));
}
