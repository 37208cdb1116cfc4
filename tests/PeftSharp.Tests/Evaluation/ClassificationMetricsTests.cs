using System.Text.Json;
using PeftSharp.Evaluation;

namespace PeftSharp.Tests.Evaluation;

public class ClassificationMetricsTests
{
    static readonly string[] Names = { "cat", "dog", "bird" };
    // Confusion matrix (rows gold, columns predicted):
    //        cat dog bird   support
    //  cat    4   1   0       5
    //  dog    1   2   0       3
    //  bird   1   1   2       4
    //  predicted totals: cat 6, dog 4, bird 2; correct 4+2+2 = 8 of 12.
    static readonly int[] Gold = { 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2 };
    static readonly int[] Pred = { 0, 0, 0, 0, 1, 0, 1, 1, 0, 1, 2, 2 };

    [Fact]
    public void Three_class_scores_equal_the_hand_computed_values()
    {
        var m = ClassificationMetrics.Compute(Gold, Pred, Names);
        Assert.Equal(new long[,] { { 4, 1, 0 }, { 1, 2, 0 }, { 1, 1, 2 } }, m.ConfusionMatrix);
        Assert.Equal(8.0 / 12, m.Accuracy, 12);
        Assert.Equal(12, m.Total);
        // cat: P = 4/6, R = 4/5, F1 = 2*4/(6+5) = 8/11
        // dog: P = 2/4, R = 2/3, F1 = 2*2/(4+3) = 4/7
        // bird: P = 2/2, R = 2/4, F1 = 2*2/(2+4) = 2/3
        double[] p = { 4.0 / 6, 2.0 / 4, 1.0 }, r = { 4.0 / 5, 2.0 / 3, 2.0 / 4 }, f = { 8.0 / 11, 4.0 / 7, 2.0 / 3 };
        long[] support = { 5, 3, 4 };
        for (int c = 0; c < 3; c++)
        {
            Assert.Equal(Names[c], m.PerClass[c].Label);
            Assert.Equal(p[c], m.PerClass[c].Precision, 12);
            Assert.Equal(r[c], m.PerClass[c].Recall, 12);
            Assert.Equal(f[c], m.PerClass[c].F1, 12);
            Assert.Equal(support[c], m.PerClass[c].Support);
        }
        // macro: P = (2/3 + 1/2 + 1)/3 = 13/18, R = (4/5 + 2/3 + 1/2)/3 = 59/90, F1 = mean of the three F1s
        Assert.Equal(13.0 / 18, m.Macro.Precision, 12);
        Assert.Equal(59.0 / 90, m.Macro.Recall, 12);
        Assert.Equal((8.0 / 11 + 4.0 / 7 + 2.0 / 3) / 3, m.Macro.F1, 12);
        // weighted by support 5, 3, 4: P = (5*2/3 + 3*1/2 + 4*1)/12 = 53/72; R = (4 + 2 + 2)/12 = accuracy
        Assert.Equal(53.0 / 72, m.Weighted.Precision, 12);
        Assert.Equal(m.Accuracy, m.Weighted.Recall, 12);
        Assert.Equal((5 * 8.0 / 11 + 3 * 4.0 / 7 + 4 * 2.0 / 3) / 12, m.Weighted.F1, 12);
    }

    [Fact]
    public void Micro_average_equals_accuracy_for_single_label_data()
    {
        var m = ClassificationMetrics.Compute(Gold, Pred, Names);
        Assert.Equal(m.Accuracy, m.Micro.Precision, 12);
        Assert.Equal(m.Accuracy, m.Micro.Recall, 12);
        Assert.Equal(m.Accuracy, m.Micro.F1, 12);
    }

    [Fact]
    public void A_class_never_predicted_or_never_gold_scores_zero_division_without_NaN()
    {
        // gold: a a b b; predicted: a a a a. b is never predicted (P undefined), c is neither gold nor predicted.
        var m = ClassificationMetrics.Compute(new[] { 0, 0, 1, 1 }, new[] { 0, 0, 0, 0 }, new[] { "a", "b", "c" });
        Assert.Equal(new ClassScores("b", 0, 0, 0, 2), m.PerClass[1]);
        Assert.Equal(new ClassScores("c", 0, 0, 0, 0), m.PerClass[2]);
        // a: P = 2/4, R = 2/2, F1 = 4/6; macro P over a, b, c = (1/2 + 0 + 0)/3
        Assert.Equal(0.5 / 3, m.Macro.Precision, 12);
        Assert.False(double.IsNaN(m.Macro.F1));

        // zero_division = 1 (sklearn): undefined ratios become 1; b's F1 stays 0 because it has gold examples (FN = 2).
        var one = ClassificationMetrics.Compute(new[] { 0, 0, 1, 1 }, new[] { 0, 0, 0, 0 }, new[] { "a", "b", "c" }, zeroDivision: 1);
        Assert.Equal(new ClassScores("b", 1, 0, 0, 2), one.PerClass[1]);
        Assert.Equal(new ClassScores("c", 1, 1, 1, 0), one.PerClass[2]);
    }

    [Fact]
    public void Bad_input_names_the_problem()
    {
        var e = Assert.Throws<ConfigurationException>(() => ClassificationMetrics.Compute(new[] { 0, 1 }, new[] { 0 }, Names));
        Assert.Contains("2 gold labels but 1 predictions", e.Message);
        e = Assert.Throws<ConfigurationException>(() => ClassificationMetrics.Compute(new[] { 0, 3 }, new[] { 0, 1 }, Names));
        Assert.Contains("gold label id 3 at example 1 is outside [0, 3)", e.Message);
        e = Assert.Throws<ConfigurationException>(() => ClassificationMetrics.Compute(new[] { 0 }, new[] { -1 }, Names));
        Assert.Contains("predicted label id -1", e.Message);
        e = Assert.Throws<ConfigurationException>(() => ClassificationMetrics.Compute(Array.Empty<int>(), Array.Empty<int>(), Names));
        Assert.Contains("no examples", e.Message);
        Assert.Throws<ConfigurationException>(() => ClassificationMetrics.Compute(new[] { 0 }, new[] { 0 }, Array.Empty<string>()));
    }

    [Fact]
    public void Table_has_a_row_per_class_then_accuracy_and_averages()
    {
        var lines = ClassificationMetrics.Compute(Gold, Pred, Names).ToTable(digits: 4)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(new[] { "precision", "recall", "f1-score", "support" }, lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(new[] { "cat", "0.6667", "0.8000", "0.7273", "5" }, lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(new[] { "accuracy", "0.6667", "12" }, lines[4].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("macro avg 0.7222 0.6556", string.Join(' ', lines[5].Split(' ', StringSplitOptions.RemoveEmptyEntries)));
        Assert.StartsWith("weighted avg 0.7361", string.Join(' ', lines[6].Split(' ', StringSplitOptions.RemoveEmptyEntries)));
    }

    [Fact]
    public void Json_uses_snake_case_keys_and_holds_the_matrix()
    {
        using var doc = JsonDocument.Parse(ClassificationMetrics.Compute(Gold, Pred, Names).ToJson());
        var root = doc.RootElement;
        Assert.Equal(8.0 / 12, root.GetProperty("accuracy").GetDouble(), 12);
        Assert.Equal("dog", root.GetProperty("per_class")[1].GetProperty("label").GetString());
        Assert.Equal(0.5, root.GetProperty("per_class")[1].GetProperty("precision").GetDouble(), 12);
        Assert.Equal(13.0 / 18, root.GetProperty("macro_avg").GetProperty("precision").GetDouble(), 12);
        Assert.True(root.TryGetProperty("micro_avg", out _));
        Assert.True(root.TryGetProperty("weighted_avg", out _));
        Assert.Equal(1, root.GetProperty("confusion_matrix")[2][1].GetInt64());
    }

    [Fact]
    public void Confusion_matrix_png_is_written_atomically()
    {
        var dir = Directory.CreateTempSubdirectory("peftsharp-cm-");
        try
        {
            var path = Path.Combine(dir.FullName, "confusion_matrix.png");
            Assert.True(ConfusionMatrixPlot.TryWrite(ClassificationMetrics.Compute(Gold, Pred, Names), path));
            var bytes = File.ReadAllBytes(path);
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
            Assert.Single(dir.GetFiles()); // no temp file left behind
        }
        finally { dir.Delete(true); }
    }
}
