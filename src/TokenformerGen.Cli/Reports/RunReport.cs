using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;
using TokenformerGen.Checkpoints;
using TokenformerGen.Cli.Infrastructure;
using TokenformerGen.Data;
using TokenformerGen.Declarations;
using TokenformerGen.Devices;
using TokenformerGen.Families;
using TokenformerGen.Modules;
using TokenformerGen.Scaling;
using TokenformerGen.Scaling.Study;

namespace TokenformerGen.Cli.Reports;

/// <summary>
/// The outcome of <c>run</c>: both modes, the growth checks, the comparison with the compute-matched baseline in both
/// directions and, with every stage from scratch, the family-level comparison; as console tables, summary.md and
/// results.json. Results are read on the test split (the second half of the held-out tail, never used to choose
/// anything); the same comparisons on the validation split follow them.
/// </summary>
internal sealed record RunReport(
    FamilyRegistration Family, string Data, string DataIdentity, long DataTokens, string Tokenizer, int Context, ScheduleOptions Options,
    string LargestStage, ScheduleResult Progressive, ScheduleResult? Scratch,
    double ProgressiveSeconds, double ScratchSeconds, double TotalSeconds, int Threads, bool Resumed, IReadOnlyList<BaselineResult>? Baselines = null,
    IReadOnlyList<string>? UnreportedBaselines = null)
{
    /// <summary>
    /// Which baseline families' folders of the run folder this report leaves out (a later command without their
    /// <c>--baseline-family</c>): one sentence naming the folders and how to report them, or empty.
    /// </summary>
    public string UnreportedNote() => UnreportedBaselines is { Count: > 0 } families
        ? $"Also in this run folder, not in this report: {string.Join(", ", families.Select(f => BaselineFamily.FolderOf(f) + "/"))}; their checkpoints keep their results, " +
          $"and the same command with --baseline-family {string.Join(",", families)} reports them without training them again."
        : "";

    /// <summary>File name of the plot in the run folder.</summary>
    public const string PlotFile = "loss-vs-flops.png";

    /// <summary>The split results are read on.</summary>
    public const DataSplit HeadlineSplit = DataSplit.Test;

    /// <summary>The comparison with the baseline on the test split, or null without one (<c>--scratch none</c>).</summary>
    public GrowthComparison? Comparison => ComparisonOn(HeadlineSplit);

    /// <summary>The comparison with the baseline on <paramref name="split"/>, or null without one.</summary>
    public GrowthComparison? ComparisonOn(DataSplit split) => Scratch is null ? null : GrowthComparison.Of(Progressive, Scratch, LargestStage, split);

    /// <summary>The family-level comparison on <paramref name="split"/> (test by default), or null unless every stage was trained from scratch (<c>--scratch all</c>).</summary>
    public FamilyComparison? FamilyComparisonOn(DataSplit split = HeadlineSplit)
        => Scratch is null || Options.Scratch != ScratchBaseline.All ? null : FamilyComparison.Of(Progressive, Scratch, Family.Stages.Select(st => st.Info.Name).ToList(), split);

    /// <summary>This run as the study's figures read it.</summary>
    public SettingResult Result(StudySetting setting) => new(setting, Progressive, Scratch, LargestStage, Baselines);

    /// <summary>Δ(C) against every reference at the progressive run's compute (whole test split).</summary>
    public IReadOnlyList<EqualComputeGap> Gaps => StudyFigures.Gaps(Result(new StudySetting(Options.BudgetScale, new SeedPair(Options.Seed, Options.DataSeed))));

    // The equal-compute table is shown when there is more than the compute-matched baseline to compare with.
    private bool ShowsGaps => Options.Scratch == ScratchBaseline.Frontier || Baselines is { Count: > 0 };

    /// <summary>The baseline's label: "scratch Large".</summary>
    public string BaselineName => $"scratch {LargestStage}";

    /// <summary>Prints the tables.</summary>
    public void Render(IAnsiConsole console)
    {
        var table = new Table().Title($"{Markup.Escape(Family.Name)}: progressive vs {(Scratch is null ? "(no baseline)" : "compute-matched scratch")}")
            .AddColumns(StageHeaders);
        foreach (var column in table.Columns.Skip(2)) column.RightAligned();
        foreach (var row in StageRows()) table.AddRow(row.Select(Markup.Escape).ToArray());
        console.Write(table);
        console.MarkupLine(Markup.Escape(WallTimeSentence()));

        if (Progressive.Growths.Count > 0)
        {
            var growth = new Table().Title("growth checks: validation loss just before and after growing (same batches)").AddColumns("edge", "policy", "before", "after", "Δ", "check");
            foreach (var row in GrowthRows()) growth.AddRow(row.Select(Markup.Escape).ToArray());
            console.Write(growth);
        }

        if (Comparison is { } c)
        {
            var comparison = new Table().Title("compute to reach each run's final test loss (first point at or below it)")
                .AddColumns("", "progressive (cumulative)", Markup.Escape(BaselineName), "progressive / scratch");
            foreach (var column in comparison.Columns.Skip(1)) column.RightAligned();
            foreach (var row in ComparisonRows(c)) comparison.AddRow(row.Select(Markup.Escape).ToArray());
            console.Write(comparison);
        }
        if (ShowsGaps)
        {
            var gaps = new Table().Title("every reference at the progressive run's compute (whole test split)").AddColumns(GapHeaders);
            foreach (var column in gaps.Columns.Skip(1)) column.RightAligned();
            foreach (var row in GapRows()) gaps.AddRow(row.Select(Markup.Escape).ToArray());
            console.Write(gaps);
        }
        if (FamilyComparisonOn() is { } f)
        {
            var family = new Table().Title("the family: every stage from scratch for at least the progressive run's cumulative FLOPs up to it (test split)").AddColumns(FamilyHeaders);
            foreach (var column in family.Columns.Skip(1)) column.RightAligned();
            foreach (var row in FamilyRows(f)) family.AddRow(row.Select(Markup.Escape).ToArray());
            console.Write(family);
        }
        console.MarkupLine(Markup.Escape(Conclusion()));
        if (UnreportedNote() is { Length: > 0 } unreported) console.MarkupLine($"[yellow]{Markup.Escape(unreported)}[/]");
    }

    /// <summary>The result in sentences, on the test split: equal compute, the compute to reach the baseline's loss, the family ratio, and the same ratios on validation.</summary>
    public string Conclusion()
    {
        if (Comparison is not { } c) return $"no from-scratch baseline (--scratch none): the progressive run ended at test loss {Numbers.Loss(Progressive.Stages[^1].LossOn(HeadlineSplit))} after {Numbers.Flops(Progressive.TotalFlops)} FLOPs";
        var inv = CultureInfo.InvariantCulture;
        var equal = $"at equal compute ({Numbers.Flops(c.ProgressiveFlops)} FLOPs progressive, {Numbers.Flops(c.BaselineFlops)} {BaselineName}): test loss {Numbers.Loss(c.ProgressiveLoss)} grown vs {Numbers.Loss(c.BaselineLoss)} from scratch";
        var reach = c.AtBaselineLoss;
        var toBaseline = reach.Progressive is { } p
            ? $"the progressive run reached {BaselineName}'s final test loss {Numbers.Loss(reach.TargetLoss)} after {Numbers.Flops(p.CumulativeFlops)} FLOPs (while training {p.Stage}), {(reach.Ratio!.Value).ToString("P0", inv)} of the {Numbers.Flops(reach.Baseline!.CumulativeFlops)} {BaselineName} needed"
            : $"the progressive run did not reach {BaselineName}'s final test loss {Numbers.Loss(reach.TargetLoss)}";
        var family = FamilyComparisonOn() is { } f ? $"; the whole family grown took {RatioText(f.Ratio, f.RatioIsBound)} of the FLOPs the family from scratch needed to reach its stages' losses" : "";
        var validation = ComparisonOn(DataSplit.Validation) is { Ratio: double v } ? $" (on the validation split: {v.ToString("F2", inv)}{(FamilyComparisonOn(DataSplit.Validation) is { } fv ? $", family {RatioText(fv.Ratio, fv.RatioIsBound)}" : "")})" : "";
        return $"{equal}; {toBaseline}{family}{validation}";
    }

    /// <summary>
    /// Which τ each stage from scratch has where its grown counterpart borrows its root's (empty when none does): √n of its
    /// own counts, as it would on its own, so the two differ in τ as well as in how they were trained.
    /// </summary>
    public string ScratchTauNote()
    {
        var borrowed = (Scratch?.Stages ?? []).Select(s => Family.Stage(s.Stage).Info).Where(s => s.HasBorrowedTau).ToList();
        if (borrowed.Count == 0) return "";
        var each = borrowed.Select(s => $"{s.Name} {Numbers.Taus(s.WithOwnTau().Taus)}, where the grown {s.Name} keeps {Numbers.Taus(s.Taus)}");
        return $"From scratch each stage has the τ of its own counts (qkv/proj/ffn), as it would trained on its own: {string.Join("; ", each)}. ";
    }

    /// <summary>A ratio, or "&lt; r" when it is an upper bound.</summary>
    public static string RatioText(double? ratio, bool bound)
        => ratio is double r ? (bound ? "< " : "") + r.ToString("F2", CultureInfo.InvariantCulture) : "not reached";

    /// <summary>Writes summary.md.</summary>
    public void WriteMarkdown(string path)
    {
        var md = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        md.AppendLine($"# Progressive scaling: {Family.Name}").AppendLine();
        md.AppendLine($"- data: `{Data}` (`{DataIdentity}`), {Numbers.Count(DataTokens)} tokens ({Tokenizer} tokenizer); the last 5% held out: its first half is the validation split (evaluation during training, growth checks), its second half the test split, on which every result below is read");
        md.AppendLine(inv, $"- context {Context}, budget scale {Options.BudgetScale.ToString("G", inv)}, {Options.EvaluationsPerStage} points per stage of {Options.EvalBatches} batches on each split, seed {Options.Seed}, data seed {Options.DataSeed}");
        md.AppendLine(inv, $"- compute: device `{Options.Compute.DeviceName}`, precision `{Options.Compute.Precision.Name()}`");
        md.AppendLine(inv, $"- stage transitions: optimizer `{OptionNames.Kebab(Options.OptimizerGrowth)}`, learning rate `{OptionNames.Kebab(Options.LearningRates)}`{(Options.PeakLearningRate is { } peak ? $" peaking at {peak:G} in every stage (`--lr`)" : "")}; from scratch: `{OptionNames.Kebab(Options.Scratch)}`");
        md.AppendLine(inv, $"- {WallTimeSentence()}");
        md.AppendLine($"- spec sha256 `{Family.SpecHash}`").AppendLine();

        md.AppendLine("## Per stage").AppendLine();
        md.AppendLine($"| {string.Join(" | ", StageHeaders)} |");
        md.AppendLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var row in StageRows()) md.AppendLine($"| {string.Join(" | ", row)} |");
        md.AppendLine().AppendLine(inv, $"Total training FLOPs: progressive {Numbers.Flops(Progressive.TotalFlops)}{(Scratch is null ? "" : $", scratch {Numbers.Flops(Scratch.TotalFlops)}")}.").AppendLine();

        if (Progressive.Growths.Count > 0)
        {
            md.AppendLine("## Growth checks").AppendLine();
            md.AppendLine("Validation loss of the trained parent just before growing and of the grown model just after, before any training, on the same batches.").AppendLine();
            md.AppendLine("| edge | policy | before | after | Δ | check |");
            md.AppendLine("| --- | --- | ---: | ---: | ---: | --- |");
            foreach (var row in GrowthRows()) md.AppendLine($"| {string.Join(" | ", row)} |");
            md.AppendLine();
        }

        if (Comparison is { } c)
        {
            md.AppendLine("## Against the compute-matched baseline (test split)").AppendLine();
            md.AppendLine($"The baseline trains {LargestStage} from scratch for at least the progressive run's training FLOPs (same batch and context, its own warmup and cosine). " +
                          $"{ScratchTauNote()}Compute to reach a loss is cumulative FLOPs at the first point at or below it.").AppendLine();
            md.AppendLine($"| | progressive (cumulative) | {BaselineName} | progressive / scratch |");
            md.AppendLine("| --- | ---: | ---: | ---: |");
            foreach (var row in ComparisonRows(c)) md.AppendLine($"| {string.Join(" | ", row)} |");
            md.AppendLine();
        }
        if (ShowsGaps)
        {
            md.AppendLine("## Every reference at equal compute (whole test split)").AppendLine();
            md.AppendLine("Δ(C) is the reference's final loss minus the progressive run's, both on one pass over the whole test split (above 0: growing ended lower). " +
                          "A baseline family trains at exactly the progressive run's FLOPs: its stages from scratch, and a grown one its own schedule lengthened in proportion.").AppendLine();
            md.AppendLine($"| {string.Join(" | ", GapHeaders)} |");
            md.AppendLine("| --- | ---: | ---: | ---: |");
            foreach (var row in GapRows()) md.AppendLine($"| {string.Join(" | ", row)} |");
            md.AppendLine();
        }
        if (FamilyComparisonOn() is { } f)
        {
            md.AppendLine("## The family (test split)").AppendLine();
            md.AppendLine("Every stage trained from scratch for at least the progressive run's cumulative FLOPs up to and including it. " +
                          "The family ratio is the progressive run's FLOPs over the sum of what each stage from scratch needed to reach the progressive stage's final loss (a stage that did not get there counts with all it had: the ratio is then an upper bound).").AppendLine();
            md.AppendLine($"| {string.Join(" | ", FamilyHeaders)} |");
            md.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
            foreach (var row in FamilyRows(f)) md.AppendLine($"| {string.Join(" | ", row)} |");
            md.AppendLine();
        }
        if (Comparison is not null) md.AppendLine(Conclusion() + ".").AppendLine();
        if (UnreportedNote() is { Length: > 0 } unreported) md.AppendLine(unreported).AppendLine();
        md.AppendLine($"![test loss against cumulative training FLOPs]({PlotFile})");
        AtomicFile.WriteText(path, md.ToString());
    }

    /// <summary>The comparisons as plain data, on one split (results.json, and the study's report).</summary>
    public object? ComparisonJson(DataSplit split)
    {
        if (ComparisonOn(split) is not { } c) return null;
        object Reach(ComputeToReach r) => new
        {
            r.TargetLoss,
            ProgressiveFlops = r.Progressive?.CumulativeFlops,
            ProgressiveStage = r.Progressive?.Stage,
            BaselineFlops = r.Baseline?.CumulativeFlops,
            r.Ratio,
        };
        var f = FamilyComparisonOn(split);
        return new
        {
            Split = split.ToString().ToLowerInvariant(),
            c.Stage,
            c.ProgressiveFlops,
            c.ProgressiveLoss,
            c.BaselineFlops,
            c.BaselineLoss,
            AtBaselineLoss = Reach(c.AtBaselineLoss),
            AtProgressiveLoss = Reach(c.AtProgressiveLoss),
            c.ReverseRatio,
            c.ReverseIsBound,
            Family = f is null ? null : new { f.Ratio, f.RatioIsBound, f.ReverseRatio, f.Stages },
        };
    }

    /// <summary>Writes both runs, the growth checks and the comparisons on both splits as JSON (for scripts).</summary>
    public void WriteJson(string path)
    {
        var json = new
        {
            family = Family.Name,
            spec_hash = Family.SpecHash,
            data = Data,
            data_identity = DataIdentity,
            data_tokens = DataTokens,
            context = Context,
            options = new
            {
                Options.BudgetScale,
                Options.EvaluationsPerStage,
                Options.EvalBatches,
                Options.Seed,
                Options.DataSeed,
                Options.PeakLearningRate,
                Policy = Options.Policy?.SpecName(),
                OptimizerGrowth = OptionNames.Kebab(Options.OptimizerGrowth),
                LrSchedule = OptionNames.Kebab(Options.LearningRates),
                Scratch = OptionNames.Kebab(Options.Scratch),
                Device = Options.Compute.DeviceName,
                Precision = Options.Compute.Precision.Name(),
            },
            threads = Threads,
            progressive = Progressive,
            scratch = Scratch,
            progressive_seconds = ProgressiveSeconds,
            scratch_seconds = ScratchSeconds,
            total_seconds = TotalSeconds,
            resumed = Resumed,
            growths = Progressive.Growths,
            baselines = Baselines ?? [],
            equal_compute = Gaps,
            comparison = ComparisonJson(HeadlineSplit),
            comparison_validation = ComparisonJson(DataSplit.Validation),
        };
        AtomicFile.Write(path, stream => JsonSerializer.Serialize(stream, json, JsonOptions));
    }

    /// <summary>How results.json (and the study's JSON) is written.</summary>
    public static JsonSerializerOptions JsonOptions { get; } = new()
    {
        WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, Converters = { new JsonStringEnumConverter() },
    };

    private static readonly string[] StageHeaders = ["mode", "stage", "parameters", "steps", "tokens", "FLOPs", "val loss", "test loss", "whole test", "train s"];

    private static readonly string[] FamilyHeaders = ["stage", "progressive FLOPs (cumulative)", "progressive loss", "scratch FLOPs", "scratch loss", "scratch FLOPs to the progressive loss", "progressive FLOPs to the scratch loss"];

    // The rows of each table, shared by the console and summary.md.
    private IEnumerable<string[]> StageRows()
        => Modes().SelectMany(m => m.Result.Stages.Select(s => new[]
        {
            m.Name, m.Baseline ? s.Stage : StageLabel(m.Mode, s.Stage), Numbers.Count(s.Parameters), Numbers.Count(s.Steps), Numbers.Count(s.Tokens),
            Numbers.Flops(s.Flops), Numbers.Loss(s.ValidationLoss), s.TestLoss is double t ? Numbers.Loss(t) : "-", s.FullTestLoss is double w ? Numbers.Loss(w) : "-", Numbers.Seconds(s.WallSeconds),
        }));

    private static readonly string[] GapHeaders = ["reference", "FLOPs", "loss (whole test)", "Δ(C)"];

    private IEnumerable<string[]> GapRows()
        => Gaps.Select(g => new[] { g.Label, Numbers.Flops(g.Flops), Numbers.Loss(g.Loss), Numbers.Delta(g.Gap) })
               .Prepend(["progressive", Numbers.Flops(Progressive.TotalFlops), Numbers.Loss(StudyFigures.FinalLoss(Progressive.Stages[^1])), ""]);

    private IEnumerable<string[]> GrowthRows()
        => Progressive.Growths.Select(g => new[]
        {
            $"{g.From} → {g.To}", g.Description, Numbers.Loss6(g.LossBefore), Numbers.Loss6(g.LossAfter), Numbers.Delta(g.Delta),
            g.PreservesFunction ? $"preserved (≤ {g.Tolerance:G})" : "not function-preserving",
        });

    private IEnumerable<string[]> ComparisonRows(GrowthComparison c)
    {
        var inv = CultureInfo.InvariantCulture;
        string Reached(CurvePoint? point, bool stage) => point is null ? "not reached" : Numbers.Flops(point.CumulativeFlops) + (stage ? $" ({point.Stage})" : "");
        var split = c.Split.ToString().ToLowerInvariant();
        yield return ["training FLOPs", Numbers.Flops(c.ProgressiveFlops), Numbers.Flops(c.BaselineFlops), (c.ProgressiveFlops / c.BaselineFlops).ToString("F2", inv)];
        yield return [$"final {split} loss", Numbers.Loss(c.ProgressiveLoss), Numbers.Loss(c.BaselineLoss), ""];
        yield return [$"to reach {BaselineName}'s final loss {Numbers.Loss(c.AtBaselineLoss.TargetLoss)}", Reached(c.AtBaselineLoss.Progressive, true), Reached(c.AtBaselineLoss.Baseline, false), c.Ratio is null ? "-" : RatioText(c.Ratio, false)];
        yield return [$"to reach the progressive run's final loss {Numbers.Loss(c.AtProgressiveLoss.TargetLoss)}", Reached(c.AtProgressiveLoss.Progressive, true), Reached(c.AtProgressiveLoss.Baseline, false), c.ReverseRatio is null ? "-" : RatioText(c.ReverseRatio, c.ReverseIsBound)];
    }

    private static IEnumerable<string[]> FamilyRows(FamilyComparison f)
    {
        foreach (var s in f.Stages)
            yield return [s.Stage, Numbers.Flops(s.ProgressiveFlops), Numbers.Loss(s.ProgressiveLoss), Numbers.Flops(s.ScratchFlops), Numbers.Loss(s.ScratchLoss),
                          s.ScratchReaching is { } r ? Numbers.Flops(r.CumulativeFlops) : $"not reached (> {Numbers.Flops(s.ScratchFlops)})",
                          s.ProgressiveReaching is { } p ? $"{Numbers.Flops(p.CumulativeFlops)} ({p.Stage})" : "not reached"];
        var scratchNeeded = f.Stages.Sum(s => s.ScratchReaching?.CumulativeFlops ?? s.ScratchFlops);
        yield return ["family ratio", Numbers.Flops(f.ProgressiveFlops), "", Numbers.Flops(f.Stages.Sum(s => s.ScratchFlops)), "",
                      $"{(f.RatioIsBound ? "> " : "")}{Numbers.Flops(scratchNeeded)} → ratio {RatioText(f.Ratio, f.RatioIsBound)}",
                      $"ratio {RatioText(f.ReverseRatio, false)}"];
    }

    private string WallTimeSentence()
        => $"wall time of this invocation: progressive {Numbers.Seconds(ProgressiveSeconds)} s, scratch {Numbers.Seconds(ScratchSeconds)} s, whole run {Numbers.Seconds(TotalSeconds)} s "
           + $"(with tokenization and evaluation; {Threads} intra-op threads on {Environment.ProcessorCount} cores){(Resumed ? "; it resumed a run folder, so earlier work is not included" : "")}. "
           + "\"train s\" is training time per stage, summed over every process that trained it";

    private string StageLabel(RunMode mode, string stage)
    {
        if (mode != RunMode.Scratch) return stage;
        if (stage == LargestStage) return $"{stage} (compute-matched)";
        if (Options.Scratch == ScratchBaseline.Frontier) return $"{stage} (full budget)";
        return Family.EdgeInto(stage) is null && Options.LearningRates == StageLearningRates.Restart ? $"{stage} (= progressive)" : stage;
    }

    // Both modes of the run, then each baseline family's ("TinyKjvStacked progressive").
    private IEnumerable<(string Name, RunMode Mode, ScheduleResult Result, bool Baseline)> Modes()
    {
        yield return (RunMode.Progressive.Name(), RunMode.Progressive, Progressive, false);
        if (Scratch is not null) yield return (RunMode.Scratch.Name(), RunMode.Scratch, Scratch, false);
        foreach (var baseline in Baselines ?? [])
            foreach (var run in new[] { baseline.Progressive, baseline.Scratch }.OfType<ScheduleResult>())
                yield return ($"{baseline.Family} {run.Mode.Name()}", run.Mode, run, true);
    }
}
