namespace PeftSharp.Tests.Reliability;

/// <summary>
/// One wrong input: the arguments it runs (built in the case's own folder), a substring naming the problem and a
/// substring of the fix that the one-line error must contain.
/// </summary>
public sealed record BadInputCase(string Name, Func<CaseFolder, string[]> Args, string Problem, string Fix)
{
    public override string ToString() => Name;
}

/// <summary>
/// A case's own folder under the scene's, with the configs it writes. <see cref="Out"/> is where a case's run would
/// write (output_dir, --out); the test checks that nothing was written anywhere in the scene.
/// </summary>
public sealed class CaseFolder
{
    public BadInputScene Scene { get; }
    public string Path { get; }
    public string Out => File("out");

    public CaseFolder(BadInputScene scene, string name)
    {
        Scene = scene;
        Path = scene.Dir.File("cases/" + string.Concat(name.Select(ch => char.IsLetterOrDigit(ch) ? ch : '-')));
        Directory.CreateDirectory(Path);
    }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string Write(string name, string content)
    {
        System.IO.File.WriteAllText(File(name), content);
        return File(name);
    }

    public string Folder(string name)
    {
        Directory.CreateDirectory(File(name));
        return File(name);
    }

    /// <summary>`train` on a YAML file with the given text.</summary>
    public string[] TrainYaml(string yaml, params string[] overrides) => ["train", Write("config.yaml", yaml), .. overrides];

    /// <summary>
    /// A causal-LM LoRA config on the header-only model (or <paramref name="model"/>) and the scene's text file,
    /// changed by --key=value overrides.
    /// </summary>
    public string[] Train(params string[] overrides) => TrainOn(Scene.HeaderOnlyModel, overrides);

    /// <summary>As <see cref="Train"/> with another method (the base config's lora section removed).</summary>
    public string[] TrainMethod(string adapter, params string[] overrides) => Train(["--adapter=" + adapter, "--lora=null", .. overrides]);

    public string[] TrainOn(string model, params string[] overrides) => TrainYaml($"""
        base_model: {model}
        adapter: lora
        lora:
          r: 4
          lora_alpha: 8
          target_modules: [q_proj, v_proj]
        datasets:
          - path: {Scene.Text}
            format: text
            text_split: paragraph
        sequence_len: 64
        micro_batch_size: 2
        max_steps: 2
        logging_steps: 1
        tensorboard: false
        output_dir: {Out}
        """, overrides);

    /// <summary>The adapter and run settings of the classification and ASR configs.</summary>
    string LoraTail => $"""
        adapter: lora
        lora_r: 4
        lora_target_modules: [q_proj, v_proj]
        micro_batch_size: 2
        max_steps: 2
        tensorboard: false
        output_dir: {Out}
        """;

    /// <summary>task: classification with labels [negative, positive] on the header-only model.</summary>
    public string[] Classify(string? data = null, params string[] overrides) => TrainYaml($"""
        task: classification
        base_model: {Scene.HeaderOnlyModel}
        labels: [negative, positive]
        datasets:
          - path: {data ?? Scene.Sst}
            text_field: sentence
            label_field: label
        sequence_len: 32
        {LoraTail}
        """, overrides);

    /// <summary>task: asr on the Whisper folder with garbage weights and a manifest of the given JSONL rows.</summary>
    public string[] Asr(string manifestRows, params string[] overrides) => TrainYaml($"""
        task: asr
        base_model: {Scene.BrokenWhisper}
        language: en
        datasets:
          - path: {Write("manifest.jsonl", manifestRows)}
        {LoraTail}
        """, overrides);

    /// <summary>A file with bytes that are not a WAV.</summary>
    public string GarbageWav(string name = "noise.wav")
    {
        System.IO.File.WriteAllBytes(File(name), Enumerable.Range(0, 200).Select(i => (byte)(i * 37)).ToArray());
        return File(name);
    }
}
