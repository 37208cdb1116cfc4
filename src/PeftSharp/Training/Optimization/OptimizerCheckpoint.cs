using PeftSharp.IO.SafeTensors;
using static TorchSharp.torch;

namespace PeftSharp.Training.Optimization;

/// <summary>What <see cref="OptimizerCheckpoint.Load"/> read besides the tensors.</summary>
public sealed record OptimizerCheckpointInfo(long Step, LrSchedule? Schedule, IReadOnlyDictionary<string, string> Metadata);

/// <summary>
/// Saves an optimizer's state dict (plus the lr schedule) as one safetensors file, and loads it back into a
/// freshly built optimizer of the same type over the same named parameters. Metadata: "format" = "peftsharp-optimizer",
/// "optimizer" = the type name, the hyper-parameters as invariant strings, "step", "schedule.*".
/// </summary>
public static class OptimizerCheckpoint
{
    /// <summary>The "format" metadata value that marks an optimizer checkpoint, "peftsharp-optimizer".</summary>
    public const string FormatName = "peftsharp-optimizer";

    /// <summary>Writes atomically (temp file + rename).</summary>
    public static void Save(string path, ITrainingOptimizer optimizer, LrSchedule? schedule = null)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        var state = optimizer.StateDict();
        try
        {
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["format"] = FormatName,
                ["optimizer"] = optimizer.TypeName,
                ["step"] = optimizer.StepCount.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["current_lr"] = AdamWOptions.Format(optimizer.LearningRate),
            };
            foreach (var (k, v) in optimizer.HyperParameters) metadata[k] = v;
            if (schedule is not null)
                foreach (var (k, v) in schedule.ToMetadata()) metadata[k] = v;
            SafeTensorsWriter.Write(path, state, metadata);
        }
        finally
        {
            foreach (var t in state.Values) t.Dispose();
        }
    }

    /// <summary>
    /// Loads <paramref name="path"/> into <paramref name="optimizer"/>. Throws when the file is not an optimizer
    /// checkpoint, was written by another optimizer type, or holds other parameters (names or shapes); nothing is
    /// changed in that case. Differing hyper-parameters only warn: changing them on resume can be intended.
    /// </summary>
    public static OptimizerCheckpointInfo Load(string path, ITrainingOptimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        if (!File.Exists(path)) throw new PeftSharpException($"optimizer checkpoint {path} not found");
        using var file = SafeTensorsFile.Open(path);
        var meta = file.Metadata;
        if (!meta.TryGetValue("format", out var format) || format != FormatName)
            throw new InvalidFileFormatException(path, $"not an optimizer checkpoint (metadata 'format' is "
                + $"{(format is null ? "missing" : $"'{format}'")}, expected '{FormatName}')");
        if (!meta.TryGetValue("optimizer", out var type) || type != optimizer.TypeName)
            throw new PeftSharpException($"{path} holds {type ?? "an unknown optimizer"}'s state, but the optimizer being resumed is "
                + $"{optimizer.TypeName}; resume with optim={type} or start the optimizer fresh");
        foreach (var (k, v) in optimizer.HyperParameters)
            if (meta.TryGetValue(k, out var saved) && saved != v)
                Diagnostics.Warn($"{path}: {k} was {saved} when saved and is {v} now; continuing with {v}");

        var state = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var key in file.KeysInFileOrder) state[key] = file.Load(key);
            optimizer.LoadStateDict(state, path);
        }
        finally
        {
            foreach (var t in state.Values) t.Dispose();
        }
        return new OptimizerCheckpointInfo(optimizer.StepCount, LrSchedule.FromMetadata(meta, path), meta);
    }
}
