namespace PeftSharp.Training;

/// <summary>The end-of-run picture: train and eval loss by step, and the learning rate on the right axis (ScottPlot).</summary>
public static class LossPlot
{
    /// <summary>Writes the PNG; a plotting failure (e.g. no native graphics library) is a warning, never a failed run.</summary>
    public static bool TryWrite(IReadOnlyList<MetricPoint> history, string path)
    {
        var train = history.Where(p => p.Split == "train").ToList();
        var eval = history.Where(p => p.Split == "eval").ToList();
        if (train.Count == 0 && eval.Count == 0) return false;
        try
        {
            var plot = new ScottPlot.Plot();
            if (train.Count > 0)
            {
                var t = plot.Add.Scatter(train.Select(p => (double)p.Step).ToArray(), train.Select(p => p.Loss).ToArray());
                t.LegendText = "train loss";
            }
            if (eval.Count > 0)
            {
                var e = plot.Add.Scatter(eval.Select(p => (double)p.Step).ToArray(), eval.Select(p => p.Loss).ToArray());
                e.LegendText = "eval loss";
            }
            var lrPoints = train.Where(p => p.LearningRate is not null).ToList();
            if (lrPoints.Count > 0)
            {
                var lr = plot.Add.Scatter(lrPoints.Select(p => (double)p.Step).ToArray(), lrPoints.Select(p => p.LearningRate!.Value).ToArray());
                lr.LegendText = "learning rate";
                lr.Axes.YAxis = plot.Axes.Right;
                plot.Axes.Right.Label.Text = "learning rate";
            }
            plot.Axes.Bottom.Label.Text = "step";
            plot.Axes.Left.Label.Text = "loss";
            plot.ShowLegend();
            var tmp = path + ".tmp.png";
            plot.SavePng(tmp, 900, 500);
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
