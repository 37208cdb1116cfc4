using System.Globalization;

namespace PeftSharp.Evaluation;

/// <summary>The confusion matrix as a PNG heatmap (ScottPlot): gold labels down the left, predicted along the bottom, counts in the cells.</summary>
public static class ConfusionMatrixPlot
{
    /// <summary>Writes the PNG; a plotting failure (e.g. no native graphics library) is a warning, never a failed evaluation.</summary>
    public static bool TryWrite(ClassificationMetrics metrics, string path)
    {
        int n = metrics.Labels.Count;
        try
        {
            var plot = new ScottPlot.Plot();
            var values = new double[n, n];
            long max = 1;
            for (int g = 0; g < n; g++)
                for (int p = 0; p < n; p++) { values[g, p] = metrics.ConfusionMatrix[g, p]; max = Math.Max(max, metrics.ConfusionMatrix[g, p]); }
            var map = plot.Add.Heatmap(values);
            // Light to dark blue: many = dark, as in scikit-learn's ConfusionMatrixDisplay.
            map.Colormap = new ScottPlot.Colormaps.Custom(new[] { ScottPlot.Color.FromHex("#F7FBFF"), ScottPlot.Color.FromHex("#08306B") }, true);
            // Row 0 of the array is drawn at the top; cell (g, p) is centred on x = p, y = n - 1 - g.
            map.Position = new ScottPlot.CoordinateRect(-0.5, n - 0.5, -0.5, n - 0.5);
            plot.Add.ColorBar(map);
            for (int g = 0; g < n; g++)
                for (int p = 0; p < n; p++)
                {
                    long count = metrics.ConfusionMatrix[g, p];
                    var text = plot.Add.Text(count.ToString(CultureInfo.InvariantCulture), p, n - 1 - g);
                    text.Alignment = ScottPlot.Alignment.MiddleCenter;
                    text.LabelFontSize = 16;
                    // Dark cells get white counts so they stay readable.
                    text.LabelFontColor = count > max / 2 ? ScottPlot.Colors.White : ScottPlot.Colors.Black;
                }
            var positions = Enumerable.Range(0, n).Select(i => (double)i).ToArray();
            plot.Axes.Bottom.SetTicks(positions, metrics.Labels.ToArray());
            plot.Axes.Left.SetTicks(positions, metrics.Labels.Reverse().ToArray());
            plot.Axes.Bottom.Label.Text = "predicted";
            plot.Axes.Left.Label.Text = "gold";
            plot.Title($"confusion matrix (accuracy {metrics.Accuracy.ToString("P1", CultureInfo.InvariantCulture)})");
            plot.Axes.SetLimits(-0.5, n - 0.5, -0.5, n - 0.5);
            int side = Math.Clamp(120 * n + 200, 500, 2000);
            var tmp = path + ".tmp.png";
            plot.SavePng(tmp, side + 120, side);
            File.Move(tmp, path, true);
            return true;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Diagnostics.Warn($"could not draw {path}: {e.Message}");
            return false;
        }
    }
}
