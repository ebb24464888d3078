using ScottPlot;
using TokenformerGen.Scaling;

namespace TokenformerGen.Cli.Reports;

/// <summary>The run's picture: validation loss against cumulative training FLOPs, progressive and scratch.</summary>
internal static class LossPlot
{
    /// <summary>Writes the PNG: one continuous progressive curve (growth points marked), one curve per scratch stage, the target loss and where each mode reached it.</summary>
    public static void Save(string path, RunReport report, int width = 1000, int height = 620)
    {
        var all = report.Progressive.Curve.Concat(report.Scratch.Curve).Select(p => p.CumulativeFlops).DefaultIfEmpty(1).Max();
        var (scale, unit) = all switch
        {
            >= 1e15 => (1e15, "PFLOPs"),
            >= 1e12 => (1e12, "TFLOPs"),
            >= 1e9 => (1e9, "GFLOPs"),
            >= 1e6 => (1e6, "MFLOPs"),
            _ => (1.0, "FLOPs"),
        };
        using var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();

        var progressive = plot.Add.Scatter(X(report.Progressive.Curve, scale), Y(report.Progressive.Curve));
        progressive.LegendText = "progressive (grown stage by stage)";
        progressive.Color = palette.GetColor(0);
        progressive.LineWidth = 2.5f;
        progressive.MarkerSize = 5;

        var stages = report.Family.Stages.Select(s => s.Info.Name).ToList();
        for (var i = 0; i < stages.Count; i++)
        {
            var points = report.Scratch.Curve.Where(p => p.Stage == stages[i]).ToList();
            if (points.Count == 0) continue;
            var scratch = plot.Add.Scatter(X(points, scale), Y(points));
            scratch.LegendText = $"scratch {stages[i]}";
            scratch.Color = palette.GetColor(1 + i);
            scratch.LinePattern = LinePattern.Dashed;
            scratch.LineWidth = 2;
            scratch.MarkerSize = 4;
        }

        // Growth points: where each later stage of the progressive run starts.
        foreach (var start in report.Progressive.Curve.GroupBy(p => p.Stage).Skip(1).Select(g => g.First()))
        {
            var line = plot.Add.VerticalLine(start.CumulativeFlops / scale);
            line.Color = Colors.Gray.WithAlpha(0.6);
            line.LinePattern = LinePattern.Dotted;
            line.LegendText = $"growth into {start.Stage}";
        }

        var comparison = report.Comparison;
        var target = plot.Add.HorizontalLine(comparison.TargetLoss);
        target.Color = Colors.Black.WithAlpha(0.5);
        target.LinePattern = LinePattern.Dashed;
        target.LineWidth = 1;
        target.LegendText = $"scratch {comparison.Stage} final loss {comparison.TargetLoss:F3}";

        plot.Title($"{report.Family.Name}: validation loss vs training compute"
                   + (comparison.Ratio is double r ? $" (growing: {r * 100:F0}% of scratch's FLOPs to the target)" : ""), size: 15);
        plot.XLabel($"cumulative training compute ({unit})");
        plot.YLabel("validation loss (nats/token)");
        plot.ShowLegend(Alignment.UpperRight);

        // Keep the interesting part in view: the untrained first point (≈ ln vocab) would squash the rest.
        var losses = report.Progressive.Curve.Concat(report.Scratch.Curve).Select(p => p.ValidationLoss).Where(double.IsFinite).ToList();
        if (losses.Count > 0)
        {
            var low = losses.Min();
            var high = Math.Min(losses.Max(), low + 3 * Math.Max(0.05, losses.Order().ElementAt(losses.Count / 2) - low));
            plot.Axes.SetLimitsY(low - 0.05 * (high - low), high);
        }
        plot.Axes.SetLimitsX(0, all / scale * 1.02);
        plot.SavePng(path, width, height);
    }

    private static double[] X(IEnumerable<CurvePoint> points, double scale) => points.Select(p => p.CumulativeFlops / scale).ToArray();

    private static double[] Y(IEnumerable<CurvePoint> points) => points.Select(p => p.ValidationLoss).ToArray();
}
