using System.Text;
using PeftSharp.Adapters;
using PeftSharp.Audio;
using PeftSharp.Data;
using PeftSharp.Data.Classification;
using PeftSharp.IO.HuggingFace;
using PeftSharp.IO.SafeTensors;
using PeftSharp.Models.Llama;
using PeftSharp.Models.Whisper;
using PeftSharp.Peft;
using PeftSharp.Tokenization;

namespace PeftSharp.Tests.Reliability.Fuzz;

/// <summary>Each fuzzed format: its seeds, its mutation strategy and the load path a user of the library takes.</summary>
internal static class FuzzFormats
{
    /// <summary>Text run through every loaded tokenizer: a loaded tokenizer that cannot encode is as broken as one that fails to load.</summary>
    private const string Sample = "Hello world, héllo 👋 <s> the once\n";

    private static FuzzFormat Json(string name, string fileName, byte[][] seeds, Action<string, int> load) =>
        new(name, fileName, seeds, (m, seed) => m.Json(seed), load, JsonSeeds.Words(seeds));

    public static FuzzFormat SafeTensors => new("SafeTensors", "model.safetensors", BinarySeeds.SafeTensorsFiles, MutateSafeTensors, (path, index) =>
    {
        using var file = SafeTensorsFile.Open(path);
        foreach (var key in file.KeysInFileOrder)
        {
            _ = file.GetInfo(key);
            using var copy = file.Load(key, index % 3 == 0 ? ScalarType.Float32 : null);
            using var mapped = file.LoadMapped(key);
        }
    }, JsonSeeds.Words(BinarySeeds.SafeTensorsFiles.Select(f => Encoding.UTF8.GetBytes(BinarySeeds.SplitSafeTensors(f).Header))));

    public static FuzzFormat LlamaConfigJson => Json("LlamaConfigJson", "config.json", JsonSeeds.LlamaConfigs, (path, _) => LlamaConfig.FromFile(path));

    public static FuzzFormat WhisperConfigJson => Json("WhisperConfigJson", "config.json", JsonSeeds.WhisperConfigs, (path, _) => WhisperConfig.FromFile(path));

    public static FuzzFormat ClassifierConfigJson => Json("ClassifierConfigJson", "config.json", JsonSeeds.ClassifierConfigs, (path, index) =>
    {
        var json = JsonReading.FromFile(path);
        LlamaConfig.FromJson(json);
        _ = new LabelMap(LlamaForSequenceClassification.LabelsFromConfig(json));
    });

    public static FuzzFormat AdapterConfigJson => Json("AdapterConfigJson", AdapterFolder.ConfigFile, JsonSeeds.AdapterConfigs,
        (path, _) => AdapterFolder.ReadConfig(Path.GetDirectoryName(path)!).ToJson());

    public static FuzzFormat TokenizerJson => Json("TokenizerJson", "tokenizer.json",
        [JsonSeeds.SentencePieceStyleTokenizer(), JsonSeeds.ByteLevelTokenizer(splitPreTokenizer: false), JsonSeeds.ByteLevelTokenizer(splitPreTokenizer: true)],
        (path, _) => Exercise(TokenizerLoader.FromFile(path)));

    public static FuzzFormat LlamaCCheckpoint => new("LlamaCCheckpoint", "model.bin", BinarySeeds.LlamaCCheckpoints, (m, seed) => m.Bytes(seed), (path, index) =>
    {
        // The sniffing ModelLocator does on a .bin (llama2.c or a refused pickle) ...
        try { ModelLocator.Resolve(path); }
        catch (PeftSharpException) { }
        // ... and the reader itself, every tensor loaded.
        using var checkpoint = global::PeftSharp.IO.LlamaC.LlamaCCheckpoint.Open(path);
        LlamaCImport.ConfigFrom(checkpoint.Header).Validate(path);
        foreach (var key in checkpoint.Keys)
        {
            _ = checkpoint.GetInfo(key);
            using var t = checkpoint.Load(key);
        }
    });

    public static FuzzFormat LlamaCTokenizer => new("LlamaCTokenizer", "tokenizer.bin", BinarySeeds.LlamaCTokenizers, (m, seed) => m.Bytes(seed),
        (path, _) => Exercise(TokenizerLoader.FromFile(path)));

    public static FuzzFormat Wav => new("Wav", "clip.wav", BinarySeeds.WavFiles, (m, seed) => m.Bytes(seed), (path, _) => WavReader.Read(path));

    public static FuzzFormat Jsonl => new("Jsonl", "data.jsonl", DatasetSeeds.Jsonl, MutateJsonLines, (path, index) => ReadDataset(path, index, new ReaderOptions()),
        JsonSeeds.Words(DatasetSeeds.Jsonl));

    public static FuzzFormat JsonArray => Json("JsonArray", "data.json", DatasetSeeds.JsonArray, (path, index) => ReadDataset(path, index, new ReaderOptions()));

    public static FuzzFormat Csv => new("Csv", "data.csv", DatasetSeeds.Csv, (m, seed) => MutateText(m, seed, ",\"\n\r"),
        (path, index) => ReadDataset(path, index, new ReaderOptions { ColumnNames = index % 4 == 3 ? ["text", "label"] : null }));

    public static FuzzFormat Tsv => new("Tsv", "data.tsv", DatasetSeeds.Tsv, (m, seed) => MutateText(m, seed, "\t\"\n\r"),
        (path, index) => ReadDataset(path, index, new ReaderOptions { ColumnNames = index % 4 == 3 ? ["sentence", "label"] : null }));

    public static FuzzFormat PlainText => new("PlainText", "data.txt", DatasetSeeds.Text, (m, seed) => MutateText(m, seed, "\n\r "),
        (path, index) => ReadDataset(path, index, new ReaderOptions { TextSplit = (TextSplit)((index & int.MaxValue) % 3) }));

    private static void Exercise(ITextTokenizer tokenizer)
    {
        var ids = tokenizer.Encode(Sample);
        tokenizer.Decode(ids);
        tokenizer.Decode([0, 1, 2, 3, tokenizer.VocabSize - 1, tokenizer.VocabSize, -1, int.MaxValue], skipSpecialTokens: false);
    }

    public static void ReadDataset(string path, int index, ReaderOptions options)
    {
        // Half the inputs stop at the first bad record (on_error: fail), half skip bad records.
        var issues = new RecordIssues(index % 2 == 0 ? OnError.Skip : OnError.Fail);
        foreach (var record in DatasetReader.Read(path, options, issues))
            _ = record.Fields.Count;
    }

    private static byte[] MutateSafeTensors(Mutator m, byte[] seed)
    {
        if (m.Chance(35)) return m.Bytes(seed);
        // Structure-aware: mutate the JSON header, then write a correct length prefix, so the header parser is reached.
        var (header, data) = BinarySeeds.SplitSafeTensors(seed);
        header = m.Chance(80) ? m.Tree(JNode.Parse(header)).ToJson() : m.Text(header, Mutator.JsonStructural);
        if (m.Chance(20)) data = m.Bytes(data);
        var file = BinarySeeds.SafeTensors(header, data);
        return m.Chance(10) ? m.Bytes(file) : file;
    }

    private static byte[] MutateJsonLines(Mutator m, byte[] seed)
    {
        var lines = Encoding.UTF8.GetString(seed).Split('\n');
        int at = m.Rng.Next(lines.Length);
        if (m.Chance(60) && lines[at].Trim().Length > 0) lines[at] = m.Tree(JNode.Parse(lines[at])).ToJson();
        string text = string.Join('\n', lines);
        if (m.Chance(40)) text = m.Text(text, Mutator.JsonStructural + "\n");
        var bytes = Encoding.UTF8.GetBytes(text);
        return m.Chance(15) ? m.Bytes(bytes) : bytes;
    }

    private static byte[] MutateText(Mutator m, byte[] seed, string structural)
    {
        if (m.Chance(25)) return m.Bytes(seed);
        var bytes = Encoding.UTF8.GetBytes(m.Text(Encoding.UTF8.GetString(seed), structural));
        return m.Chance(15) ? m.Bytes(bytes) : bytes;
    }
}
