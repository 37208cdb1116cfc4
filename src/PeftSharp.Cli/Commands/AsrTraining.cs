using System.Globalization;
using PeftSharp.Cli.Config;
using PeftSharp.Data;
using PeftSharp.Data.Speech;
using PeftSharp.Generation.Whisper;
using PeftSharp.Models;
using PeftSharp.Models.Whisper;
using PeftSharp.Peft;
using PeftSharp.Training;
using PeftSharp.Training.Objectives;

namespace PeftSharp.Cli.Commands;

/// <summary>
/// `task: asr`: Whisper fine-tuning on a manifest of WAV files and transcripts (HF's Seq2Seq recipe: labels are the
/// forced prefix, the transcript and end-of-text), with LoRA/QLoRA/any method on the encoder and decoder Linears.
/// </summary>
internal static class AsrTraining
{
    /// <summary>Files of a Whisper folder that a saved full model needs beside its weights to load and decode.</summary>
    static readonly string[] SideFiles =
    {
        "tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt", "added_tokens.json", "special_tokens_map.json",
        "normalizer.json", "preprocessor_config.json", "generation_config.json", "mel_filters.npz",
    };

    public static int Run(TrainConfig c, string configDir, TextWriter stdout)
    {
        if (c.Datasets.Count != 1) throw new ConfigurationException("task: asr takes one manifest dataset (use eval_path or eval_split for evaluation)");
        var d = c.Datasets[0];
        var path = TrainCommand.Locate(d.Path, configDir);
        // The manifest first: every clip is opened there, so a missing or unreadable WAV fails before the model loads.
        var manifest = Read(path, d);
        IReadOnlyList<AsrExample> train = manifest.Examples, eval = [];
        if (d.EvalPath is { } ep) eval = Read(TrainCommand.Locate(ep, configDir), d).Examples;
        else (train, eval) = DatasetSplitter.Split(manifest.Examples, d.EvalSplit, d.Seed);
        using var whisper = PretrainedWhisper.Load(TrainCommand.Locate(c.BaseModel, configDir), c.LoadOptions(configDir));
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"manifest {d.Path}: {train.Count:N0} train / {eval.Count:N0} eval clips, {manifest.TotalSeconds / 60:F1} min of audio, {manifest.Skipped} rows skipped"));

        var tokens = whisper.SpecialTokens;
        var speechTask = TranscribeCommand.ParseTask(c.SpeechTask);
        var language = tokens.IsMultilingual ? c.Language ?? "en" : null;
        var labels = new AsrLabelBuilder(tokens.SotSequence(language, speechTask), tokens.EndOfText,
            text => whisper.Tokenizer.Encode(text, addSpecialTokens: false), Math.Min(d.MaxSeqLength, whisper.Config.MaxTargetPositions),
            tokens.IsMultilingual ? tokens.LanguageToken : null);
        var batches = new AsrBatchOptions { BatchSize = c.Trainer.MicroBatchSize, Seed = (int)c.Trainer.Seed };
        var trainSource = new AsrBatchSource(train, labels, whisper.MelFilters, batches);
        var evalSource = eval.Count > 0 ? new AsrBatchSource(eval, labels, whisper.MelFilters, batches with { Shuffle = false }) : null;
        labels.WarnIfTruncated(d.Path);

        PeftModel? peft = null;
        if (c.Adapter is { } method)
        {
            // As HF's Whisper LoRA recipe: a plain PeftModel (no task_type), so PEFT loads it onto WhisperForConditionalGeneration.
            peft = PeftModel.Create(whisper.Model, method.WithTokenizer(whisper.Tokenizer) with { BaseModelNameOrPath = c.BaseModel, TaskType = null }, seed: c.Trainer.Seed);
            stdout.WriteLine(peft.TrainableReport());
        }
        var transcribe = c.EvalWer && evalSource is not null
            ? new AsrEvalSettings(eval, whisper.MelFilters, whisper.NewGenerator(), new WhisperDecodingOptions
            {
                Language = c.Language,
                Task = speechTask,
                // Enough for every reference transcript with room to spare, so an untrained model cannot decode for minutes.
                MaxNewTokens = Math.Min(whisper.Config.MaxTargetPositions / 2, Enumerable.Range(0, eval.Count).Max(i => evalSource.Targets(i).Length) + 16),
            }, c.Trainer.MicroBatchSize)
            : null;
        var sideFiles = SideFiles.Select(n => Path.Combine(whisper.Location.Folder, n))
            .Concat(Directory.EnumerateFiles(whisper.Location.Folder, "*.tiktoken"))
            .Where(File.Exists).ToDictionary(f => Path.GetFileName(f), f => f);
        return TrainCommand.RunTrainer(c, new SpeechToTextObjective(whisper.Model, transcribe), peft, trainSource, evalSource, sideFiles, stdout);
    }

    static AsrManifest Read(string path, DatasetConfig d) => AsrManifestReader.Read(path, new AsrManifestOptions
    {
        AudioField = d.AudioField,
        TextField = d.TextField,
        OnError = d.ParseOnError(),
        Reader = d.ReaderOptions(path),
    });
}
