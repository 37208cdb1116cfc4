using System.Text.Json;

namespace PeftSharp.Training;

/// <summary>Where a run is, saved in every checkpoint as trainer_state.json so --resume continues exactly there.</summary>
public sealed record TrainerState
{
    /// <summary>Optimizer steps completed (HF global_step).</summary>
    public int GlobalStep { get; init; }
    /// <summary>The 0-based epoch in progress.</summary>
    public int Epoch { get; init; }
    /// <summary>Micro-batches of <see cref="Epoch"/> already consumed.</summary>
    public int BatchInEpoch { get; init; }
    /// <summary>The run's planned step count; the learning-rate schedule is built for it.</summary>
    public int TotalSteps { get; init; }
    /// <summary>The lowest eval loss so far, for early stopping; null before the first evaluation.</summary>
    public double? BestEvalLoss { get; init; }
    /// <summary>
    /// Evaluations since <see cref="BestEvalLoss"/> last improved; early stopping fires when it reaches the patience.
    /// </summary>
    public int EvalsWithoutImprovement { get; init; }
    /// <summary>Steps skipped so far for a non-finite loss or gradient.</summary>
    public int SkippedSteps { get; init; }
    /// <summary>
    /// Tokens processed so far, as the objective counts them (non-padding input tokens for text, label tokens for speech).
    /// </summary>
    public long TokensSeen { get; init; }

    static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true };

    /// <summary>Writes the state as indented snake_case JSON (trainer_state.json), atomically.</summary>
    public void Save(string path) => IO.AtomicFile.WriteAllBytes(path, JsonSerializer.SerializeToUtf8Bytes(this, Json));

    /// <summary>Reads a trainer_state.json.</summary>
    /// <exception cref="PeftSharpException">The file does not exist.</exception>
    /// <exception cref="InvalidFileFormatException">It is empty or not valid JSON.</exception>
    public static TrainerState Load(string path)
    {
        if (!File.Exists(path)) throw new PeftSharpException($"{path} not found: not a PeftSharp checkpoint folder");
        try
        {
            return JsonSerializer.Deserialize<TrainerState>(File.ReadAllBytes(path), Json)
                ?? throw new InvalidFileFormatException(path, "empty trainer state");
        }
        catch (JsonException e)
        {
            throw new InvalidFileFormatException(path, $"invalid trainer state JSON ({e.Message})", e);
        }
    }
}
