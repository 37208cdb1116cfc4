using PeftSharp.Adapters.Lora;
using PeftSharp.Adapters.PromptTuning;
using PeftSharp.Models;
using PeftSharp.Peft;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Reliability;

/// <summary>
/// The good pieces the bad-input cases are built from, made once per test class in one temp folder: data files, a
/// model whose weights are cut off after the header (loading it fails, so a case that reports its own problem with it
/// shows that the check ran before the model load), a Whisper folder with garbage weights (the same for task: asr),
/// an adapter trained on another base, a prompt-tuning adapter and a model folder without a tokenizer.
/// </summary>
public sealed class BadInputScene : IDisposable
{
    readonly Lazy<string> headerOnly, brokenWhisper, otherBaseAdapter, promptAdapter, noTokenizer;

    public TempDir Dir { get; } = Fixtures.NewTempDir();

    public BadInputScene()
    {
        Directory.CreateDirectory(Dir.File("data"));
        File.WriteAllText(Dir.File("data/train.txt"), string.Join("\n\n", Enumerable.Range(0, 20).Select(i => $"Once upon a time there was a cat number {i}. It liked to play in the sun.")));
        File.WriteAllText(Dir.File("data/sst.tsv"), "sentence\tlabel\n" + string.Join("\n", Enumerable.Range(0, 8).Select(i => $"a {(i % 2 == 0 ? "good" : "bad")} film {i}\t{(i % 2 == 0 ? "positive" : "negative")}")) + "\n");
        File.WriteAllText(Dir.File("data/notes.jsonl"), "{\"content\": \"a line of text\"}\n{\"content\": \"another line\"}\n");
        headerOnly = new(WriteHeaderOnlyModel);
        brokenWhisper = new(WriteBrokenWhisper);
        otherBaseAdapter = new(WriteOtherBaseAdapter);
        promptAdapter = new(WritePromptAdapter);
        noTokenizer = new(WriteModelWithoutTokenizer);
    }

    public string Text => Dir.File("data/train.txt");
    public string Sst => Dir.File("data/sst.tsv");
    /// <summary>JSONL whose records have a 'content' field (and no 'text').</summary>
    public string Notes => Dir.File("data/notes.jsonl");

    /// <summary>The real stories260K folder (llama2.c checkpoint and tokenizer).</summary>
    public static string Model => Fixtures.Require("models", "stories260K");
    public string HeaderOnlyModel => headerOnly.Value;
    public string BrokenWhisper => brokenWhisper.Value;
    public string OtherBaseAdapter => otherBaseAdapter.Value;
    public string PromptAdapter => promptAdapter.Value;
    public string ModelWithoutTokenizer => noTokenizer.Value;

    /// <summary>stories260K's 28-byte header and 100 bytes of its weights, beside its tokenizer.</summary>
    string WriteHeaderOnlyModel()
    {
        var src = Model;
        var dir = Dir.File("header-only");
        Directory.CreateDirectory(dir);
        var bytes = File.ReadAllBytes(Path.Combine(src, "stories260K.bin"));
        File.WriteAllBytes(Path.Combine(dir, "stories260K.bin"), bytes[..128]);
        File.Copy(Path.Combine(src, "tok512.bin"), Path.Combine(dir, "tok512.bin"));
        return dir;
    }

    /// <summary>A Whisper folder whose config and tokenizer are real but whose model.safetensors is garbage.</summary>
    string WriteBrokenWhisper()
    {
        var dir = Dir.File("broken-whisper");
        using (var model = TinyWhisper.Random(seed: 1)) TinyWhisper.WriteFolder(dir, model);
        File.WriteAllBytes(Path.Combine(dir, "model.safetensors"), new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 });
        return dir;
    }

    /// <summary>A LoRA adapter saved from a random Llama with hidden size 32 (stories260K has 64) and as many layers.</summary>
    string WriteOtherBaseAdapter()
    {
        var dir = Dir.File("adapters/other-base");
        using var model = TinyModels.Random(TinyModels.Config() with { NumHiddenLayers = 5 }, seed: 3);
        var peft = PeftModel.Create(model, new LoraConfig { R = 4, TargetModules = new[] { "q_proj", "v_proj" } }, seed: 1);
        AdapterFolder.Save(peft, dir, "tiny-llama-32");
        return dir;
    }

    /// <summary>A prompt-tuning adapter (virtual tokens, no weight update) for stories260K.</summary>
    string WritePromptAdapter()
    {
        var dir = Dir.File("adapters/prompt");
        using var lm = PretrainedCausalLM.Load(Model);
        var peft = PeftModel.Create(lm.Model, new PromptTuningConfig { NumVirtualTokens = 2 }, seed: 1);
        AdapterFolder.Save(peft, dir, "stories260K");
        return dir;
    }

    /// <summary>An HF folder (config.json + model.safetensors) of a random tiny Llama, with no tokenizer files.</summary>
    string WriteModelWithoutTokenizer()
    {
        var dir = Dir.File("no-tokenizer");
        using var model = TinyModels.Random(TinyModels.Config(), seed: 4);
        ModelFolderWriter.Save(model, dir);
        return dir;
    }

    public void Dispose() => Dir.Dispose();
}
