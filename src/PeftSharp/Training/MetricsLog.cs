using System.Globalization;
using System.Text.Json;
using TorchSharp;

namespace PeftSharp.Training;

/// <summary>One logged point: train metrics every logging step, eval metrics every eval step.</summary>
public sealed record MetricPoint(int Step, double Epoch, string Split, double Loss, double? LearningRate = null,
    double? GradNorm = null, double? TokensPerSecond = null, double? Perplexity = null,
    [property: System.Text.Json.Serialization.JsonPropertyName("peak_memory_mib")] double? PeakMemoryMiB = null,
    IReadOnlyDictionary<string, double>? Method = null, IReadOnlyDictionary<string, double>? Metrics = null)
{
    /// <summary>Steps skipped so far for a non-finite loss or gradient (absent while there are none).</summary>
    public int? SkippedSteps { get; init; }
}

/// <summary>
/// Where training metrics go: metrics.jsonl (one JSON object per line, flushed as written), TensorBoard event files
/// (TorchSharp's SummaryWriter) and an in-memory history for the final plot and summary. A resumed run's earlier
/// points are written to a new file that replaces the old one atomically, so a crash at any moment keeps them.
/// </summary>
public sealed class MetricsLog : IDisposable
{
    readonly StreamWriter? jsonl; // null: in memory only
    readonly TorchSharp.Modules.SummaryWriter? tensorboard;
    readonly List<MetricPoint> history = new();
    static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

    /// <summary>Every point logged in this run (including the resumed run's earlier ones), in order.</summary>
    public IReadOnlyList<MetricPoint> History => history;
    /// <summary>output_dir/metrics.jsonl; empty for an in-memory log.</summary>
    public string JsonlPath { get; } = "";

    /// <summary>Where the log of a run in <paramref name="outputDir"/> lives: outputDir/metrics.jsonl.</summary>
    public static string PathIn(string outputDir) => Path.Combine(outputDir, "metrics.jsonl");

    /// <summary>Starts the log of a run: metrics.jsonl is rewritten (atomically) with the earlier points, then appended to.</summary>
    /// <param name="outputDir">The run's output folder; created when missing.</param>
    /// <param name="useTensorBoard">Also write TensorBoard event files under outputDir/runs.</param>
    /// <param name="earlier">Points kept from the run being resumed: written first, not sent to TensorBoard again.</param>
    public MetricsLog(string outputDir, bool useTensorBoard, IReadOnlyList<MetricPoint>? earlier = null)
    {
        Directory.CreateDirectory(outputDir);
        JsonlPath = PathIn(outputDir);
        earlier ??= Array.Empty<MetricPoint>();
        IO.AtomicFile.WriteAllText(JsonlPath, string.Concat(earlier.Select(p => JsonSerializer.Serialize(p, Json) + "\n")));
        history.AddRange(earlier);
        jsonl = new StreamWriter(new FileStream(JsonlPath, FileMode.Append, FileAccess.Write, FileShare.Read));
        if (useTensorBoard) tensorboard = torch.utils.tensorboard.SummaryWriter(Path.Combine(outputDir, "runs"));
    }

    MetricsLog(IReadOnlyList<MetricPoint> earlier) => history.AddRange(earlier);

    /// <summary>A log that keeps the history and writes no file: ranks other than 0 of a data-parallel run.</summary>
    /// <param name="earlier">Points kept from the run being resumed.</param>
    public static MetricsLog InMemory(IReadOnlyList<MetricPoint>? earlier = null) => new(earlier ?? Array.Empty<MetricPoint>());

    /// <summary>The points in a metrics.jsonl; a last line cut short by a crash is ignored, a damaged line elsewhere is an error.</summary>
    public static IEnumerable<MetricPoint> Read(string path)
    {
        if (!File.Exists(path)) return Array.Empty<MetricPoint>();
        var lines = File.ReadAllLines(path).Where(l => l.Length > 0).ToList();
        var points = new List<MetricPoint>(lines.Count);
        for (int i = 0; i < lines.Count; i++)
        {
            try { points.Add(JsonSerializer.Deserialize<MetricPoint>(lines[i], Json)!); }
            catch (JsonException e) when (i == lines.Count - 1)
            {
                Diagnostics.Warn($"{path}: ignoring its last line, cut short ({e.Message})");
            }
            catch (JsonException e)
            {
                throw new InvalidFileFormatException(path, $"line {i + 1} is not a metrics record ({e.Message}); move the file aside to start its log afresh", e);
            }
        }
        return points;
    }

    /// <summary>
    /// Appends a point to metrics.jsonl (flushed at once), the history and, when enabled, TensorBoard as "split/name"
    /// scalars.
    /// </summary>
    /// <param name="p">The point.</param>
    /// <param name="toTensorBoard">False to skip TensorBoard for this point; default true.</param>
    public void Log(MetricPoint p, bool toTensorBoard = true)
    {
        history.Add(p);
        jsonl?.WriteLine(JsonSerializer.Serialize(p, Json));
        jsonl?.Flush();
        if (tensorboard is null || !toTensorBoard) return;
        void Scalar(string name, double? value)
        {
            if (value is { } v) tensorboard.add_scalar(p.Split + "/" + name, (float)v, p.Step, null);
        }
        Scalar("loss", p.Loss);
        Scalar("learning_rate", p.LearningRate);
        Scalar("grad_norm", p.GradNorm);
        Scalar("perplexity", p.Perplexity);
        Scalar("tokens_per_second", p.TokensPerSecond);
        foreach (var (name, value) in p.Method ?? new Dictionary<string, double>()) Scalar(name, value);
        foreach (var (name, value) in p.Metrics ?? new Dictionary<string, double>()) Scalar(name, value);
    }

    /// <summary>
    /// One console line for a point, e.g. "step 10 epoch 0.50 train loss 2.3456 lr 2.00E-004 grad_norm 0.812 1534
    /// tok/s"; absent values are left out.
    /// </summary>
    public static string Format(MetricPoint p)
    {
        var inv = CultureInfo.InvariantCulture;
        var b = new System.Text.StringBuilder();
        b.Append(inv, $"step {p.Step} epoch {p.Epoch:F2} {p.Split} loss {p.Loss:F4}");
        if (p.Perplexity is { } ppl) b.Append(inv, $" ppl {ppl:F2}");
        if (p.LearningRate is { } lr) b.Append(inv, $" lr {lr:E2}");
        if (p.GradNorm is { } g) b.Append(inv, $" grad_norm {g:F3}");
        if (p.TokensPerSecond is { } t) b.Append(inv, $" {t:F0} tok/s");
        if (p.PeakMemoryMiB is { } m) b.Append(inv, $" peak {m:F0} MiB");
        if (p.SkippedSteps is { } skipped) b.Append(inv, $" skipped {skipped}");
        foreach (var (name, value) in p.Method ?? new Dictionary<string, double>()) b.Append(inv, $" {name} {value:G4}");
        foreach (var (name, value) in p.Metrics ?? new Dictionary<string, double>()) b.Append(inv, $" {name} {value:F4}");
        return b.ToString();
    }

    /// <summary>Closes metrics.jsonl.</summary>
    public void Dispose()
    {
        jsonl?.Dispose(); // SummaryWriter writes each event as it is added and holds no handle to close
    }
}
