using ScottPlot;
using TokenformerGen.Scaling;

namespace TokenformerGen.Cli.Reports;

/// <summary>The run's picture: test loss against cumulative training FLOPs, progressive and the compute-matched baseline.</summary>
internal static class LossPlot
{
    /// <summary>
    /// Writes the PNG: the progressive curve (growth points marked) and the compute-matched baseline over the same compute
    /// range, any other scratch stage thinner, and each run's final loss as a horizontal line.
    /// </summary>
    public static void Save(string path, RunReport report, int width = 1000, int height = 620)
    {
        var scratchCurve = report.Scratch?.Curve ?? [];
        var all = report.Progressive.Curve.Concat(scratchCurve).Select(p => p.CumulativeFlops).DefaultIfEmpty(1).Max();
        var (scale, unit) = FlopsUnit(all);
        using var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();

        var progressive = plot.Add.Scatter(X(report.Progressive.Curve, scale), Y(report.Progressive.Curve));
        progressive.LegendText = "progressive (grown stage by stage)";
        progressive.Color = palette.GetColor(0);
        progressive.LineWidth = 2.5f;
        progressive.MarkerSize = 5;

        var stages = report.Family.Stages.Select(s => s.Info.Name).ToList();
        var baselineLosses = new List<double>();
        for (var i = 0; i < stages.Count; i++)
        {
            var points = scratchCurve.Where(p => p.Stage == stages[i]).ToList();
            if (points.Count == 0) continue;
            var baseline = stages[i] == report.LargestStage;
            var scratch = plot.Add.Scatter(X(points, scale), Y(points));
            scratch.LegendText = baseline ? $"{report.BaselineName} (compute-matched baseline)"
                : report.Options.Scratch == ScratchBaseline.Frontier ? $"scratch {stages[i]} (the whole progressive budget)" : $"scratch {stages[i]} (the progressive FLOPs up to it)";
            scratch.Color = baseline ? palette.GetColor(1) : palette.GetColor(2 + i).WithAlpha(0.6);
            scratch.LinePattern = baseline ? LinePattern.Dashed : LinePattern.Dotted;
            scratch.LineWidth = baseline ? 2.5f : 1.5f;
            scratch.MarkerSize = baseline ? 5 : 3;
        }

        // Each baseline family's runs: its grown schedule solid, its stages from scratch densely dashed.
        var next = 2 + stages.Count;
        void AddBaseline(string label, IReadOnlyList<CurvePoint> points, bool grown)
        {
            var line = plot.Add.Scatter(X(points, scale), Y(points));
            line.LegendText = label;
            line.Color = palette.GetColor(next++ % 10);
            line.LinePattern = grown ? LinePattern.Solid : LinePattern.DenselyDashed;
            line.LineWidth = grown ? 2f : 1.5f;
            line.MarkerSize = 3;
            baselineLosses.AddRange(points.Select(p => p.LossOn(RunReport.HeadlineSplit)));
            all = Math.Max(all, points.Select(p => p.CumulativeFlops).DefaultIfEmpty(0).Max());
        }
        foreach (var family in report.Baselines ?? [])
        {
            if (family.Progressive is { } grown) AddBaseline($"{family.Family} grown", grown.Curve, grown: true);
            foreach (var stage in (family.Scratch?.Curve ?? []).GroupBy(p => p.Stage)) AddBaseline($"{family.Family} {stage.Key} from scratch", stage.ToList(), grown: false);
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
        if (comparison is not null)
        {
            foreach (var (loss, label, color) in new[]
            {
                (comparison.BaselineLoss, $"{report.BaselineName} final loss {comparison.BaselineLoss:F3}", palette.GetColor(1)),
                (comparison.ProgressiveLoss, $"progressive final loss {comparison.ProgressiveLoss:F3}", palette.GetColor(0)),
            })
            {
                var target = plot.Add.HorizontalLine(loss);
                target.Color = color.WithAlpha(0.45);
                target.LinePattern = LinePattern.Dashed;
                target.LineWidth = 1;
                target.LegendText = label;
            }
        }

        plot.Title($"{report.Family.Name}: test loss vs training compute"
                   + (comparison?.AtBaselineLoss.Ratio is double r ? $" (growing: {r * 100:F0}% of the baseline's FLOPs to its loss)" : ""), size: 15);
        plot.XLabel($"cumulative training compute ({unit})");
        plot.YLabel("test loss (nats/token)");
        plot.ShowLegend(Alignment.UpperRight);

        FocusLosses(plot, report.Progressive.Curve.Concat(scratchCurve).Select(p => p.LossOn(RunReport.HeadlineSplit)).Concat(baselineLosses));
        plot.Axes.SetLimitsX(0, all / scale * 1.02);
        plot.SavePng(path, width, height);
    }

    /// <summary>The unit a FLOPs axis whose largest value is <paramref name="largest"/> is drawn in.</summary>
    public static (double Scale, string Unit) FlopsUnit(double largest) => largest switch
    {
        >= 1e15 => (1e15, "PFLOPs"),
        >= 1e12 => (1e12, "TFLOPs"),
        >= 1e9 => (1e9, "GFLOPs"),
        >= 1e6 => (1e6, "MFLOPs"),
        _ => (1.0, "FLOPs"),
    };

    /// <summary>Keeps the interesting part of a loss axis in view: the untrained first point (≈ ln vocab) would squash the rest.</summary>
    public static void FocusLosses(Plot plot, IEnumerable<double> values)
    {
        var losses = values.Where(double.IsFinite).ToList();
        if (losses.Count == 0) return;
        var low = losses.Min();
        var high = Math.Min(losses.Max(), low + 3 * Math.Max(0.05, losses.Order().ElementAt(losses.Count / 2) - low));
        plot.Axes.SetLimitsY(low - 0.05 * (high - low), high);
    }

    /// <summary>Cumulative FLOPs of <paramref name="points"/> in units of <paramref name="scale"/>.</summary>
    public static double[] X(IEnumerable<CurvePoint> points, double scale) => points.Select(p => p.CumulativeFlops / scale).ToArray();

    /// <summary>The losses of <paramref name="points"/> on the split results are read on.</summary>
    public static double[] Y(IEnumerable<CurvePoint> points) => points.Select(p => p.LossOn(RunReport.HeadlineSplit)).ToArray();
}
