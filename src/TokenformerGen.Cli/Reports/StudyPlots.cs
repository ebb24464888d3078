using ScottPlot;
using TokenformerGen.Cli.Infrastructure;
using TokenformerGen.Scaling.Study;

namespace TokenformerGen.Cli.Reports;

/// <summary>The study's pictures: the ratios against budget scale with every seed, and per scale the loss curves of every seed.</summary>
internal static class StudyPlots
{
    /// <summary>Both ratios (test split) of every seed against the budget scale, with their means joined and the break-even line.</summary>
    public static void SaveRatios(string path, StudyReport study, int width = 900, int height = 560)
    {
        using var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var series = new (string Label, Func<RunReport, double?> Value, int Color)[]
        {
            ("ratio: progressive / scratch FLOPs to the baseline's final loss", r => r.Comparison?.Ratio, 0),
            ("reverse: the same to the progressive run's final loss", r => r.Comparison?.ReverseRatio, 1),
            ("family: progressive / the family from scratch (--scratch all)", r => r.FamilyComparisonOn()?.Ratio, 2),
        };
        foreach (var (label, value, color) in series)
        {
            var points = study.Runs.Select(r => (r.Setting.Scale, Value: value(r.Report))).Where(p => p.Value is double v && double.IsFinite(v)).Select(p => (p.Scale, p.Value!.Value)).ToList();
            if (points.Count > 0) AddSeedsAndMean(plot, points, palette.GetColor(color), label);
        }
        AddLine(plot, 1, "break-even");
        plot.Title($"{study.Family.Name}: compute growing needed, by budget scale (test split)", size: 15);
        plot.XLabel("budget scale (× every stage's token budget)");
        plot.YLabel("FLOPs ratio (below 1: growing saved compute)");
        plot.Axes.SetLimitsY(0, Math.Max(1.1, study.Runs.Select(r => r.Report.Comparison?.ReverseRatio ?? 0).DefaultIfEmpty(0).Max() * 1.05));
        var scales = study.Scales;
        plot.Axes.SetLimitsX(0, scales.Max() * 1.1);
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SavePng(path, width, height);
    }

    /// <summary>Δ(C) against the budget scale: per reference (from scratch, or a grown baseline family), every seed (dots) and their mean (line), with the line where growing stops paying.</summary>
    public static void SaveGaps(string path, StudyReport study, int width = 900, int height = 560)
    {
        using var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        // Every reference the report's table has, baseline families' too, named as the table names them.
        var gaps = study.Results.SelectMany(r => StudyFigures.Gaps(r).Select(g => (r.Setting.Scale, g))).ToList();
        var labels = gaps.Select(p => p.g.Label).Distinct().ToList();
        for (var i = 0; i < labels.Count; i++)
            AddSeedsAndMean(plot, gaps.Where(p => p.g.Label == labels[i]).Select(p => (p.Scale, p.g.Gap)).ToList(), palette.GetColor(i), $"Δ(C) vs {labels[i]}");
        AddLine(plot, 0, "growing stops paying");
        plot.Title($"{study.Family.Name}: loss above the progressive run at equal compute (whole test split)", size: 15);
        plot.XLabel("budget scale (× every stage's token budget)");
        plot.YLabel("Δ(C), nats/token (above 0: growing ended lower)");
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(path, width, height);
    }

    /// <summary>Test loss against cumulative FLOPs at one budget scale: each seed's progressive run (solid) and every from-scratch run (dashed, dotted) in one colour.</summary>
    public static void SaveCurves(string path, StudyReport study, double scale, int width = 1000, int height = 620)
    {
        var runs = study.Runs.Where(r => r.Setting.Scale == scale).ToList();
        var all = runs.SelectMany(r => r.Report.Progressive.Curve.Concat(r.Report.Scratch?.Curve ?? [])).ToList();
        var (unit, name) = LossPlot.FlopsUnit(all.Select(p => p.CumulativeFlops).DefaultIfEmpty(1).Max());
        using var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        for (var i = 0; i < runs.Count; i++)
        {
            var (setting, report) = runs[i];
            var progressive = plot.Add.Scatter(LossPlot.X(report.Progressive.Curve, unit), LossPlot.Y(report.Progressive.Curve));
            progressive.Color = palette.GetColor(i);
            progressive.LineWidth = 2;
            progressive.MarkerSize = 3;
            progressive.LegendText = $"seeds {setting.Seeds}: progressive";
            foreach (var stage in report.Scratch?.Stages ?? [])
            {
                var curve = report.Scratch!.Curve.Where(p => p.Stage == stage.Stage).ToList();
                if (curve.Count == 0) continue;
                var scratch = plot.Add.Scatter(LossPlot.X(curve, unit), LossPlot.Y(curve));
                scratch.Color = palette.GetColor(i);
                scratch.LinePattern = stage.Stage == report.LargestStage ? LinePattern.Dashed : LinePattern.Dotted;
                scratch.LineWidth = 1.5f;
                scratch.MarkerSize = 3;
                scratch.LegendText = $"seeds {setting.Seeds}: {(stage.Stage == report.LargestStage ? report.BaselineName : stage.Stage + " from scratch")}";
            }
        }
        plot.Title($"{study.Family.Name}, budget scale {Numbers.Exact(scale)}: test loss of every seed", size: 15);
        plot.XLabel($"cumulative training compute ({name})");
        plot.YLabel("test loss (nats/token)");
        LossPlot.FocusLosses(plot, all.Select(p => p.LossOn(RunReport.HeadlineSplit)));
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(path, width, height);
    }

    // Every seed's value (dots) and their mean per budget scale (a line), in one colour.
    private static void AddSeedsAndMean(Plot plot, IReadOnlyList<(double Scale, double Value)> points, Color color, string label)
    {
        var seeds = plot.Add.ScatterPoints(points.Select(p => p.Scale).ToArray(), points.Select(p => p.Value).ToArray());
        seeds.Color = color.WithAlpha(0.55);
        seeds.MarkerSize = 7;
        var means = points.GroupBy(p => p.Scale).OrderBy(g => g.Key).ToList();
        var mean = plot.Add.Scatter(means.Select(g => g.Key).ToArray(), means.Select(g => g.Average(p => p.Value)).ToArray());
        mean.Color = color;
        mean.LineWidth = 2;
        mean.MarkerSize = 4;
        mean.LegendText = label + " (mean; dots: seeds)";
    }

    // A dashed grey reference line across the plot.
    private static void AddLine(Plot plot, double y, string label)
    {
        var line = plot.Add.HorizontalLine(y);
        line.Color = Colors.Gray;
        line.LinePattern = LinePattern.Dashed;
        line.LegendText = label;
    }
}
