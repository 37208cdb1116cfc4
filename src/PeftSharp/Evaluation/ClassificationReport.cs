using System.Globalization;
using System.Text;
using System.Text.Json;

namespace PeftSharp.Evaluation;

/// <summary>Text and JSON renderings of <see cref="ClassificationMetrics"/>.</summary>
public sealed partial class ClassificationMetrics
{
    static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true };

    /// <summary>A table in the shape of scikit-learn's classification_report: one row per class, then accuracy and the averages.</summary>
    public string ToTable(int digits = 4)
    {
        int width = Math.Max("weighted avg".Length, Labels.Max(l => l.Length));
        int col = Math.Max(digits + 2, 9);
        string Num(double v) => v.ToString("F" + digits, CultureInfo.InvariantCulture).PadLeft(col);
        string Row(ClassScores s) => $"{s.Label.PadLeft(width)} {Num(s.Precision)} {Num(s.Recall)} {Num(s.F1)} {s.Support.ToString(CultureInfo.InvariantCulture).PadLeft(col)}";
        var sb = new StringBuilder();
        sb.AppendLine($"{"".PadLeft(width)} {"precision".PadLeft(col)} {"recall".PadLeft(col)} {"f1-score".PadLeft(col)} {"support".PadLeft(col)}");
        sb.AppendLine();
        foreach (var s in PerClass) sb.AppendLine(Row(s));
        sb.AppendLine();
        // As sklearn: accuracy sits in the f1 column, with the total support.
        sb.AppendLine($"{"accuracy".PadLeft(width)} {"".PadLeft(col)} {"".PadLeft(col)} {Num(Accuracy)} {Total.ToString(CultureInfo.InvariantCulture).PadLeft(col)}");
        sb.AppendLine(Row(Macro));
        sb.AppendLine(Row(Weighted));
        return sb.ToString();
    }

    /// <summary>Accuracy, the per-class scores, the three averages and the confusion matrix, with snake_case keys.</summary>
    public string ToJson()
    {
        int n = Labels.Count;
        var rows = Enumerable.Range(0, n).Select(g => Enumerable.Range(0, n).Select(p => ConfusionMatrix[g, p]).ToArray()).ToArray();
        return JsonSerializer.Serialize(new Document(Accuracy, Total, Labels, PerClass, Macro, Micro, Weighted, rows), Json);
    }

    sealed record Document(double Accuracy, long Total, IReadOnlyList<string> Labels, IReadOnlyList<ClassScores> PerClass,
        ClassScores MacroAvg, ClassScores MicroAvg, ClassScores WeightedAvg, long[][] ConfusionMatrix);
}
