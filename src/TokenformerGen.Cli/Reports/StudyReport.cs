using System.Globalization;
using System.Text;
using System.Text.Json;
using Spectre.Console;
using TokenformerGen.Checkpoints;
using TokenformerGen.Cli.Infrastructure;
using TokenformerGen.Data;
using TokenformerGen.Devices;
using TokenformerGen.Modules;
using TokenformerGen.Scaling;
using TokenformerGen.Scaling.Study;

namespace TokenformerGen.Cli.Reports;

/// <summary>
/// The outcome of <c>study</c>: every setting's comparison on the test split (and on validation), aggregated per budget
/// scale over the seeds; as console tables, study.md, study.json, the ratio against budget scale and the loss curves of
/// every seed per scale.
/// </summary>
internal sealed record StudyReport(FamilyRegistration Family, string Data, string DataIdentity, ScheduleOptions Options,
                                   IReadOnlyList<(StudySetting Setting, RunReport Report)> Runs)
{
    /// <summary>File names in the study folder.</summary>
    public const string MarkdownFile = "study.md", JsonFile = "study.json", RatioPlotFile = "ratio-vs-scale.png", GapPlotFile = "gap-vs-scale.png";

    /// <summary>The loss plot of one budget scale.</summary>
    public static string CurvesFile(double scale) => $"curves-scale-{Numbers.Exact(scale)}.png";

    /// <summary>One budget scale over its seeds, on <paramref name="Split"/>.</summary>
    public sealed record ScaleRow(double Scale, int Seeds, DataSplit Split, Spread? Ratio, Spread? ReverseRatio, bool ReverseIsBound, Spread? FamilyRatio, bool FamilyIsBound, Spread? FamilyReverseRatio,
                                  Spread? ProgressiveLoss, Spread? BaselineLoss, double ProgressiveFlops, double BaselineFlops);

    /// <summary>The budget scales in the order given.</summary>
    public IReadOnlyList<double> Scales => Runs.Select(r => r.Setting.Scale).Distinct().ToList();

    /// <summary>Per budget scale, the spread over seeds of every figure on <paramref name="split"/>.</summary>
    public IReadOnlyList<ScaleRow> ByScale(DataSplit split = RunReport.HeadlineSplit)
        => Scales.Select(scale =>
        {
            var runs = Runs.Where(r => r.Setting.Scale == scale).Select(r => r.Report).ToList();
            var comparisons = runs.Select(r => r.ComparisonOn(split)).ToList();
            var families = runs.Select(r => r.FamilyComparisonOn(split)).ToList();
            return new ScaleRow(scale, runs.Count, split,
                                Spread.Of(comparisons.Select(c => c?.Ratio).ToList()),
                                Spread.Of(comparisons.Select(c => c?.ReverseRatio).ToList()), comparisons.Any(c => c?.ReverseIsBound == true),
                                Spread.Of(families.Select(f => (double?)f?.Ratio).ToList()), families.Any(f => f?.RatioIsBound == true),
                                Spread.Of(families.Select(f => f?.ReverseRatio).ToList()),
                                Spread.Of(comparisons.Select(c => (double?)c?.ProgressiveLoss).ToList()),
                                Spread.Of(comparisons.Select(c => (double?)c?.BaselineLoss).ToList()),
                                runs.Average(r => r.Progressive.TotalFlops), runs.Average(r => r.Scratch?.Stages.Single(s => s.Stage == r.LargestStage).Flops ?? double.NaN));
        }).ToList();

    private static readonly string[] ScaleHeaders =
        ["budget scale", "seeds", "progressive FLOPs", "ratio to the baseline's loss", "reverse ratio", "family ratio", "family reverse", "progressive loss", "baseline loss (equal compute)"];

    private static readonly string[] RunHeaders =
        ["budget scale", "seeds", "ratio (test)", "reverse (test)", "family (test)", "progressive loss (test)", "baseline loss (test)", "ratio (validation)", "wall s"];

    private IEnumerable<string[]> ScaleRows(DataSplit split)
        => ByScale(split).Select(row => new[]
        {
            Numbers.Exact(row.Scale), row.Seeds.ToString(CultureInfo.InvariantCulture), Numbers.Flops(row.ProgressiveFlops),
            row.Ratio?.ToString() ?? "not reached", (row.ReverseIsBound ? "< " : "") + (row.ReverseRatio?.ToString() ?? "-"),
            (row.FamilyIsBound ? "< " : "") + (row.FamilyRatio?.ToString() ?? "-"), row.FamilyReverseRatio?.ToString() ?? "-",
            row.ProgressiveLoss?.Format("F4") ?? "-", row.BaselineLoss?.Format("F4") ?? "-",
        });

    private IEnumerable<string[]> RunRows()
        => Runs.Select(r =>
        {
            var c = r.Report.Comparison;
            var f = r.Report.FamilyComparisonOn();
            return new[]
            {
                Numbers.Exact(r.Setting.Scale), $"{r.Setting.Seeds}", RunReport.RatioText(c?.Ratio, false),
                RunReport.RatioText(c?.ReverseRatio, c?.ReverseIsBound == true), f is null ? "-" : RunReport.RatioText(f.Ratio, f.RatioIsBound),
                c is null ? "-" : Numbers.Loss(c.ProgressiveLoss), c is null ? "-" : Numbers.Loss(c.BaselineLoss),
                RunReport.RatioText(r.Report.ComparisonOn(DataSplit.Validation)?.Ratio, false), Numbers.Seconds(r.Report.Progressive.Stages.Concat(r.Report.Scratch?.Stages ?? []).Sum(s => s.WallSeconds)),
            };
        });

    /// <summary>Every setting as the library's figures read it, in the order of <see cref="Runs"/> (built once: every row, plot and run's figures read all of them).</summary>
    public IReadOnlyList<SettingResult> Results { get; } = Runs.Select(r => r.Report.Result(r.Setting)).ToList();

    // The from-scratch stages that trained for the progressive run's whole compute, in the order trained.
    private IReadOnlyList<EqualComputeGap> References => Results.SelectMany(StudyFigures.Gaps).DistinctBy(g => g.Stage).ToList();

    private string[] EqualComputeHeaders =>
        ["budget scale", "seeds", "progressive loss", .. References.Select(g => $"Δ(C) vs {g.Label}"), "frontier gap", "forward ratio (per seed)", "forward family ratio (per seed)", "baseline tokens/param", "s/step progressive", "s/step baseline"];

    // Per scale, over seeds, on the whole test split: the equal-compute gap against each reference, the frontier gap, the
    // forward ratio read off the scale ladder, and what the budget and the steps were.
    private IEnumerable<string[]> EqualComputeRows()
        => Scales.Select(scale =>
        {
            var results = Results.Where(r => r.Setting.Scale == scale).ToList();
            var all = Results;
            string Of(Func<SettingResult, double?> value, string format = "F4") => Spread.Of(results.Select(value).ToList())?.Format(format) ?? "-";
            return (string[])
            [
                Numbers.Exact(scale), results.Count.ToString(CultureInfo.InvariantCulture), Of(r => StudyFigures.ProgressiveLoss(r)),
                .. References.Select(reference => Of(r => StudyFigures.Gaps(r).FirstOrDefault(g => g.Stage == reference.Stage)?.Gap)),
                Of(StudyFigures.FrontierGap),
                string.Join(", ", results.Select(r => StudyFigures.Forward(r, all)?.ToString() ?? "-")),
                string.Join(", ", results.Select(r => StudyFigures.ForwardFamily(r, all)?.ToString() ?? "-")),
                Of(StudyFigures.BaselineTokensPerParameter, "F2"),
                Of(r => StudyFigures.SecondsPerStep(r.Progressive), "F3"),
                Of(r => r.Scratch is { } s ? StudyFigures.SecondsPerStep(new ScheduleResult(s.Mode, s.Stages.Where(x => x.Stage == r.LargestStage).ToList(), [], [])) : null, "F3"),
            ];
        });

    private object Figures(SettingResult result)
        => new
        {
            ProgressiveLoss = StudyFigures.ProgressiveLoss(result),
            Gaps = StudyFigures.Gaps(result),
            FrontierGap = StudyFigures.FrontierGap(result),
            ForwardRatio = StudyFigures.Forward(result, Results),
            ForwardFamilyRatio = StudyFigures.ForwardFamily(result, Results),
            BaselineTokensPerParameter = StudyFigures.BaselineTokensPerParameter(result),
        };

    /// <summary>Prints the tables.</summary>
    public void Render(IAnsiConsole console)
    {
        var equal = new Table().Title($"{Markup.Escape(Family.Name)} at equal compute: mean (min–max) over seeds, whole test split").AddColumns(EqualComputeHeaders);
        foreach (var row in EqualComputeRows()) equal.AddRow(row.Select(Markup.Escape).ToArray());
        console.Write(equal);
        var scales = new Table().Title($"{Markup.Escape(Family.Name)} study: mean (min–max) over seeds, test split").AddColumns(ScaleHeaders);
        foreach (var column in scales.Columns.Skip(1)) column.RightAligned();
        foreach (var row in ScaleRows(RunReport.HeadlineSplit)) scales.AddRow(row.Select(Markup.Escape).ToArray());
        console.Write(scales);
        var runs = new Table().Title("every run").AddColumns(RunHeaders);
        foreach (var column in runs.Columns.Skip(2)) column.RightAligned();
        foreach (var row in RunRows()) runs.AddRow(row.Select(Markup.Escape).ToArray());
        console.Write(runs);
    }

    /// <summary>Writes study.md, study.json and the plots into <paramref name="directory"/>.</summary>
    public void Write(string directory)
    {
        StudyPlots.SaveRatios(Path.Combine(directory, RatioPlotFile), this);
        if (References.Count > 0) StudyPlots.SaveGaps(Path.Combine(directory, GapPlotFile), this);
        foreach (var scale in Scales) StudyPlots.SaveCurves(Path.Combine(directory, CurvesFile(scale)), this, scale);
        WriteMarkdown(Path.Combine(directory, MarkdownFile));
        WriteJson(Path.Combine(directory, JsonFile));
    }

    private void WriteMarkdown(string path)
    {
        var inv = CultureInfo.InvariantCulture;
        var md = new StringBuilder();
        md.AppendLine($"# Scaling study: {Family.Name}").AppendLine();
        md.AppendLine($"- data: `{Data}` (`{DataIdentity}`); the last 5% held out, its first half the validation split (evaluation during training, growth checks), its second half the test split, on which the headline figures are read");
        md.AppendLine(inv, $"- {Options.EvaluationsPerStage} points per stage of {Options.EvalBatches} batches on each split; optimizer at growth `{OptionNames.Kebab(Options.OptimizerGrowth)}`, learning rate `{OptionNames.Kebab(Options.LearningRates)}`, from scratch `{OptionNames.Kebab(Options.Scratch)}`; device `{Options.Compute.DeviceName}`, precision `{Options.Compute.Precision.Name()}`");
        md.AppendLine($"- settings: budget scales {string.Join(", ", Scales.Select(Numbers.Exact))} × seed pairs (initialisation/data order) {string.Join(", ", Runs.Select(r => $"{r.Setting.Seeds}").Distinct())}; each in its run folder `scale-X/seed-S-D`");
        md.AppendLine($"- spec sha256 `{Family.SpecHash}`").AppendLine();
        md.AppendLine("The ratio is the progressive run's FLOPs to reach the compute-matched baseline's final loss over the baseline's FLOPs to it (below 1: growing saved compute; \"not reached\": it never got there). " +
                      "The reverse ratio is the other direction, the FLOPs to the progressive run's final loss (<: the baseline never got there, an upper bound). " +
                      "The family ratio is the progressive FLOPs over the sum of what each stage from scratch needed to reach the progressive stage's loss (<: some stage from scratch never got there); the family reverse ratio is the progressive FLOPs by which it had reached every scratch stage's final loss over the whole family's FLOPs from scratch (both with `--scratch all`).").AppendLine();
        md.AppendLine("## At equal compute, whole test split, mean (min–max) over seeds").AppendLine();
        md.AppendLine("Δ(C) is a from-scratch model's final loss minus the progressive run's, both on one pass over the whole test split, for every stage trained from scratch for at least the progressive run's FLOPs (above 0: growing ended lower). " +
                      "The frontier gap is the smallest of them from scratch: the best model of any size, of this family or a baseline family, the same compute trains from scratch, minus progressive (a grown baseline's Δ(C) is listed but not part of it). " +
                      "The forward ratio is the progressive FLOPs over the FLOPs the compute-matched baseline of the same seeds needs to reach the progressive final loss, read off the baselines at this and larger budget scales (each trained with its own warmup and cosine: the scratch multipliers) by linear interpolation in log-compute; < and ≥ mark bounds. " +
                      "The forward family ratio is the progressive FLOPs over the sum, over stages, of the FLOPs at which that stage from scratch reaches the progressive stage's final loss, each read off that stage's runs from scratch at this and larger scales the same way (with `--scratch all` a stage from scratch trains for the progressive FLOPs up to it, so the scales are its multipliers).").AppendLine();
        var headers = EqualComputeHeaders;
        md.AppendLine($"| {string.Join(" | ", headers)} |");
        md.AppendLine($"|{string.Concat(headers.Select(_ => " ---: |"))}");
        foreach (var row in EqualComputeRows()) md.AppendLine($"| {string.Join(" | ", row)} |");
        md.AppendLine();
        if (References.Count > 0) md.AppendLine($"![Δ(C) against budget scale]({GapPlotFile})").AppendLine();
        foreach (var split in new[] { RunReport.HeadlineSplit, DataSplit.Validation })
        {
            md.AppendLine($"## Per budget scale, mean (min–max) over seeds ({split.ToString().ToLowerInvariant()} split)").AppendLine();
            md.AppendLine($"| {string.Join(" | ", ScaleHeaders)} |");
            md.AppendLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
            foreach (var row in ScaleRows(split)) md.AppendLine($"| {string.Join(" | ", row)} |");
            md.AppendLine();
        }
        md.AppendLine("## Every run").AppendLine();
        md.AppendLine($"| {string.Join(" | ", RunHeaders)} |");
        md.AppendLine("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var row in RunRows()) md.AppendLine($"| {string.Join(" | ", row)} |");
        md.AppendLine().AppendLine($"![ratio against budget scale]({RatioPlotFile})").AppendLine();
        foreach (var scale in Scales) md.AppendLine($"![test loss of every seed, budget scale {Numbers.Exact(scale)}]({CurvesFile(scale)})").AppendLine();
        AtomicFile.WriteText(path, md.ToString());
    }

    private void WriteJson(string path)
    {
        var json = new
        {
            family = Family.Name,
            spec_hash = Family.SpecHash,
            data = Data,
            data_identity = DataIdentity,
            scales = ByScale(),
            scales_validation = ByScale(DataSplit.Validation),
            runs = Runs.Zip(Results, (r, result) => new
            {
                scale = r.Setting.Scale,
                seed = r.Setting.Seeds.Seed,
                data_seed = r.Setting.Seeds.DataSeed,
                folder = r.Setting.FolderName,
                figures = Figures(result),
                comparison = r.Report.ComparisonJson(RunReport.HeadlineSplit),
                comparison_validation = r.Report.ComparisonJson(DataSplit.Validation),
            }),
        };
        AtomicFile.Write(path, stream => JsonSerializer.Serialize(stream, json, RunReport.JsonOptions));
    }
}
