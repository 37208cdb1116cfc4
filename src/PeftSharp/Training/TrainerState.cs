using System.Text.Json;

namespace PeftSharp.Training;

/// <summary>Where a run is, saved in every checkpoint as trainer_state.json so --resume continues exactly there.</summary>
public sealed record TrainerState
{
    public int GlobalStep { get; init; }
    public int Epoch { get; init; }
    /// <summary>Micro-batches of <see cref="Epoch"/> already consumed.</summary>
    public int BatchInEpoch { get; init; }
    public int TotalSteps { get; init; }
    public double? BestEvalLoss { get; init; }
    public int EvalsWithoutImprovement { get; init; }
    public int SkippedSteps { get; init; }
    public long TokensSeen { get; init; }

    static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true };

    public void Save(string path) => IO.AtomicFile.WriteAllBytes(path, JsonSerializer.SerializeToUtf8Bytes(this, Json));

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
