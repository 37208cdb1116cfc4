using System.CommandLine;
using System.Globalization;
using PeftSharp.Cli.Config;
using PeftSharp.Data;
using PeftSharp.Models;
using PeftSharp.Peft;
using PeftSharp.Training;
using PeftSharp.Training.Distributed;
using PeftSharp.Training.Objectives;

namespace PeftSharp.Cli.Commands;

/// <summary>`peftsharp train config.yaml [--key=value ...]`: fine-tune with LoRA, QLoRA or fully, as the YAML says.</summary>
internal static class TrainCommand
{
    public static Command Create(TextWriter stdout)
    {
        var configFile = new Argument<string>("config") { Description = "Training config (YAML); keys follow axolotl/TRL/PEFT names" };
        var resume = new Option<bool>("--resume") { Description = "Continue from the latest checkpoint in output_dir" };
        var cmd = new Command("train", "Fine-tune a model (LoRA / QLoRA / full) from a YAML config; extra --key=value or --section.key=value override it")
        {
            configFile, resume,
        };
        cmd.TreatUnmatchedTokensAsErrors = false;
        cmd.SetAction(r =>
        {
            var path = r.GetValue(configFile)!;
            var overrides = r.UnmatchedTokens.ToList();
            if (r.GetValue(resume)) overrides.Add("resume_from_checkpoint=latest");
            var c = TrainConfig.Read(ConfigSection.Load(path, overrides));
            return Run(c, Path.GetDirectoryName(Path.GetFullPath(path))!, DownloadProgress.Options(r), stdout);
        });
        return cmd;
    }

    /// <summary>Clears the live progress line before each log line, so the two never mix on a terminal.</summary>
    sealed class LineClearingWriter(TextWriter inner) : TextWriter
    {
        public override System.Text.Encoding Encoding => inner.Encoding;
        public override void Write(char value) => inner.Write(value);
        public override void WriteLine(string? value)
        {
            inner.Write("\r\u001b[2K");
            inner.WriteLine(value);
        }
    }

    /// <summary>The chat template family of the model folder's Jinja chat_template, when it is one we know.</summary>
    internal static string? FolderChatTemplate(string folder)
    {
        if (!File.Exists(Path.Combine(folder, "tokenizer_config.json"))) return null;
        try { return ChatTemplate.FromTokenizerConfig(folder).Name; }
        catch (ConfigurationException) { return null; } // chat data then asks for the chat_template option
    }

    static void ProgressLine(TrainingProgress p) =>
        Console.Write(string.Create(CultureInfo.InvariantCulture,
            $"\r  step {p.Step}/{p.TotalSteps} loss {p.Loss:F4} lr {p.LearningRate:E2} {p.TokensPerSecond:F0} tok/s eta {p.Eta} peak {p.PeakMemoryMiB:F0} MiB   ")
            + (p.Step == p.TotalSteps ? "\n" : ""));

    /// <summary>A relative path as written, or relative to the config file's folder when that is where it exists.</summary>
    internal static string Locate(string p, string configDir) =>
        Path.IsPathRooted(p) || File.Exists(p) || Directory.Exists(p) ? p
        : File.Exists(Path.Combine(configDir, p)) || Directory.Exists(Path.Combine(configDir, p)) ? Path.Combine(configDir, p) : p;

    // The output folder's lock, taken before the model loads so a second run refuses at once; the trainer keeps it.
    static readonly AsyncLocal<OutputDirLock?> heldLock = new();
    // The MPI job when mpirun (or another MPI launcher) started this process; null for a single-process run.
    static readonly AsyncLocal<MpiCommunicator?> job = new();

    static int Run(TrainConfig c, string configDir, IO.HuggingFace.HubOptions hub, TextWriter stdout)
    {
        TrainPreflight.Check(c, configDir, hub);
        using var mpi = MpiCommunicator.FromEnvironment();
        job.Value = mpi;
        return mpi is null ? RunRank(c, configDir, stdout) : mpi.RunOrAbort(() => RunRank(c, configDir, mpi.Rank > 0 ? TextWriter.Null : stdout), Console.Error);
    }

    static int RunRank(TrainConfig c, string configDir, TextWriter stdout)
    {
        // The ranks on one machine share its cores; only rank 0 prints and writes.
        TorchRuntime.EnsureInitialized(processesPerMachine: MpiLaunch.Detect()?.LocalSize ?? 1);
        var mpi = job.Value;
        using var outputLock = mpi is { Rank: > 0 } ? null : OutputDirLock.Acquire(c.Trainer.OutputDir);
        heldLock.Value = outputLock;
        return c.Task switch
        {
            "classification" => ClassifierTraining.Run(c, configDir, stdout),
            "asr" => AsrTraining.Run(c, configDir, stdout),
            _ => RunCausalLm(c, configDir, stdout),
        };
    }

    /// <summary>
    /// Runs the loop with a live progress line on a terminal (redirected output gets only the periodic log lines);
    /// exit code 0 when at least one step was taken.
    /// </summary>
    internal static int RunTrainer(TrainConfig c, ITrainingObjective objective, PeftModel? peft, IBatchSource train, IBatchSource? eval,
        IReadOnlyDictionary<string, string> extraFiles, TextWriter stdout)
    {
        bool live = ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected;
        var trainer = new Trainer(c.Trainer, objective, peft, train, eval, live ? new LineClearingWriter(stdout) : stdout)
        {
            BaseModelName = c.BaseModel,
            ExtraFiles = extraFiles,
            Progress = live ? ProgressLine : null,
            OutputLock = heldLock.Value,
            Collectives = job.Value,
        };
        return trainer.Run().Steps > 0 ? 0 : 1;
    }

    static int RunCausalLm(TrainConfig c, string configDir, TextWriter stdout)
    {
        var baseModel = Locate(c.BaseModel, configDir);
        using var lm = PretrainedCausalLM.Load(baseModel, c.LoadOptions(configDir));
        var tokenizer = lm.Tokenizer ?? throw new PeftSharpException($"no tokenizer found for {baseModel}: set tokenizer: in the config");
        // The adapter goes in before the data is read, so a target that does not fit the model fails before tokenization.
        PeftModel? peft = null;
        if (c.Adapter is { } method)
            peft = PeftModel.Create(lm.Model, method.WithTokenizer(tokenizer) with { BaseModelNameOrPath = c.BaseModel }, seed: c.Trainer.Seed);
        var trainParts = new List<IReadOnlyList<TokenizedExample>>();
        var evalParts = new List<IReadOnlyList<TokenizedExample>>();
        var folderTemplate = FolderChatTemplate(lm.Location.Folder);
        foreach (var d in c.Datasets)
        {
            var built = DatasetBuilder.Build(TrainPreflight.Located(d, configDir) with { ChatTemplate = d.ChatTemplate ?? folderTemplate }, tokenizer);
            trainParts.Add(built.Train);
            evalParts.Add(built.Eval);
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"dataset {d.Path}: {built.Train.Count:N0} train / {built.Eval.Count:N0} eval examples; the file: {built.TrainStats.Examples:N0} examples, {built.TrainStats.Tokens:N0} tokens ({built.TrainStats.TrainableTokens:N0} trained), {built.TrainStats.RecordsSkipped} records skipped"));
        }
        // Views, not copies: a streaming (disk-backed) dataset stays on disk.
        IReadOnlyList<TokenizedExample> train = trainParts.Count == 1 ? trainParts[0] : new ConcatenatedList<TokenizedExample>(trainParts);
        IReadOnlyList<TokenizedExample> eval = evalParts.Count == 1 ? evalParts[0] : new ConcatenatedList<TokenizedExample>(evalParts);
        var first = c.Datasets[0];
        var batcher = new BatcherOptions
        {
            BatchSize = c.Trainer.MicroBatchSize,
            MaxSeqLength = first.MaxSeqLength,
            Packing = first.Packing,
            GroupByLength = c.GroupByLength,
            Seed = (int)c.Trainer.Seed,
            PadId = tokenizer.PadId ?? tokenizer.EosId ?? 0,
        };
        if (peft is not null) stdout.WriteLine(peft.TrainableReport());
        var samples = new TrainingSamples(lm, peft, job.Value is { Rank: > 0 } ? [] : c.SamplePrompts, c.SampleMaxNewTokens);
        var before = samples.Enabled ? samples.Generate() : Array.Empty<string>();
        if (samples.Enabled) TrainingSamples.Print(stdout, "samples before training:", before);
        int exit = RunTrainer(c, new CausalLmObjective(lm.Model, c.Trainer.ChunkedLoss), peft, new DataBatchSource(train, batcher),
            eval.Count > 0 ? new DataBatchSource(eval, batcher with { Shuffle = false, GroupByLength = false }) : null,
            lm.TokenizerFiles(), stdout);
        if (samples.Enabled && exit == 0)
        {
            var after = samples.Generate();
            TrainingSamples.Print(stdout, "samples after training:", after);
            samples.Save(c.Trainer.OutputDir, before, after);
        }
        return exit;
    }
}
