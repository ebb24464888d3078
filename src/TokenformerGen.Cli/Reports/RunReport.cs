using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;
using TokenformerGen.Checkpoints;
using TokenformerGen.Cli.Infrastructure;
using TokenformerGen.Devices;
using TokenformerGen.Families;
using TokenformerGen.Modules;
using TokenformerGen.Scaling;

namespace TokenformerGen.Cli.Reports;

/// <summary>
/// The outcome of <c>run</c>: both modes, the growth checks and the comparison with the compute-matched baseline in both
/// directions; as console tables, summary.md and results.json.
/// </summary>
internal sealed record RunReport(
    FamilyRegistration Family, string Data, string DataIdentity, long DataTokens, string Tokenizer, int Context, ScheduleOptions Options,
    string LargestStage, ScheduleResult Progressive, ScheduleResult? Scratch,
    double ProgressiveSeconds, double ScratchSeconds, double TotalSeconds, int Threads, bool Resumed)
{
    /// <summary>File name of the plot in the run folder.</summary>
    public const string PlotFile = "loss-vs-flops.png";

    /// <summary>The comparison with the baseline, or null without one (<c>--scratch none</c>).</summary>
    public GrowthComparison? Comparison => Scratch is null ? null : GrowthComparison.Of(Progressive, Scratch, LargestStage);

    /// <summary>The baseline's label: "scratch Large".</summary>
    public string BaselineName => $"scratch {LargestStage}";

    /// <summary>Prints the tables.</summary>
    public void Render(IAnsiConsole console)
    {
        var table = new Table().Title($"{Markup.Escape(Family.Name)}: progressive vs {(Scratch is null ? "(no baseline)" : "compute-matched scratch")}")
            .AddColumns("mode", "stage", "parameters", "steps", "tokens", "FLOPs", "val loss", "train s");
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
            var comparison = new Table().Title("compute to reach each run's final validation loss (first validation point at or below it)")
                .AddColumns("", "progressive (cumulative)", Markup.Escape(BaselineName), "progressive / scratch");
            foreach (var column in comparison.Columns.Skip(1)) column.RightAligned();
            foreach (var row in ComparisonRows(c)) comparison.AddRow(row.Select(Markup.Escape).ToArray());
            console.Write(comparison);
        }
        console.MarkupLine(Markup.Escape(Conclusion()));
    }

    /// <summary>The result in two sentences: equal compute, and the compute to reach the baseline's loss.</summary>
    public string Conclusion()
    {
        if (Comparison is not { } c) return $"no from-scratch baseline (--scratch none): the progressive run ended at validation loss {Numbers.Loss(Progressive.Stages[^1].ValidationLoss)} after {Numbers.Flops(Progressive.TotalFlops)} FLOPs";
        var inv = CultureInfo.InvariantCulture;
        var equal = $"at equal compute ({Numbers.Flops(c.ProgressiveFlops)} FLOPs progressive, {Numbers.Flops(c.BaselineFlops)} {BaselineName}): validation loss {Numbers.Loss(c.ProgressiveLoss)} grown vs {Numbers.Loss(c.BaselineLoss)} from scratch";
        var reach = c.AtBaselineLoss;
        var toBaseline = reach.Progressive is { } p
            ? $"the progressive run reached {BaselineName}'s final loss {Numbers.Loss(reach.TargetLoss)} after {Numbers.Flops(p.CumulativeFlops)} FLOPs (while training {p.Stage}), {(reach.Ratio!.Value).ToString("P0", inv)} of the {Numbers.Flops(reach.Baseline!.CumulativeFlops)} {BaselineName} needed"
            : $"the progressive run did not reach {BaselineName}'s final loss {Numbers.Loss(reach.TargetLoss)}";
        return $"{equal}; {toBaseline}";
    }

    /// <summary>Writes summary.md.</summary>
    public void WriteMarkdown(string path)
    {
        var md = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        md.AppendLine($"# Progressive scaling: {Family.Name}").AppendLine();
        md.AppendLine($"- data: `{Data}` (`{DataIdentity}`), {Numbers.Count(DataTokens)} tokens ({Tokenizer} tokenizer), last 5% held out for validation");
        md.AppendLine(inv, $"- context {Context}, budget scale {Options.BudgetScale.ToString("G", inv)}, {Options.EvaluationsPerStage} validation points per stage of {Options.EvalBatches} batches, seed {Options.Seed}, data seed {Options.DataSeed}");
        md.AppendLine(inv, $"- compute: device `{Options.Compute.DeviceName}`, precision `{Options.Compute.Precision.Name()}`");
        md.AppendLine(inv, $"- stage transitions: optimizer `{OptionNames.Kebab(Options.OptimizerGrowth)}`, learning rate `{OptionNames.Kebab(Options.LearningRates)}`; from scratch: `{OptionNames.Kebab(Options.Scratch)}`");
        md.AppendLine(inv, $"- {WallTimeSentence()}");
        md.AppendLine($"- spec sha256 `{Family.SpecHash}`").AppendLine();

        md.AppendLine("## Per stage").AppendLine();
        md.AppendLine("| mode | stage | parameters | steps | tokens | FLOPs | val loss | train s |");
        md.AppendLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
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
            md.AppendLine("## Against the compute-matched baseline").AppendLine();
            md.AppendLine($"The baseline trains {LargestStage} from scratch for at least the progressive run's training FLOPs (same batch and context, its own warmup and cosine). " +
                          "Compute to reach a loss is cumulative FLOPs at the first validation point at or below it.").AppendLine();
            md.AppendLine($"| | progressive (cumulative) | {BaselineName} | progressive / scratch |");
            md.AppendLine("| --- | ---: | ---: | ---: |");
            foreach (var row in ComparisonRows(c)) md.AppendLine($"| {string.Join(" | ", row)} |");
            md.AppendLine().AppendLine(Conclusion() + ".").AppendLine();
        }
        md.AppendLine($"![validation loss against cumulative training FLOPs]({PlotFile})");
        AtomicFile.Write(path, stream =>
        {
            using var writer = new StreamWriter(stream, new UTF8Encoding(false), leaveOpen: true);
            writer.Write(md.ToString());
        });
    }

    /// <summary>Writes both runs, the growth checks and the comparison as JSON (for scripts).</summary>
    public void WriteJson(string path)
    {
        var c = Comparison;
        object? Reach(ComputeToReach? r) => r is null ? null : new
        {
            r.TargetLoss,
            ProgressiveFlops = r.Progressive?.CumulativeFlops,
            ProgressiveStage = r.Progressive?.Stage,
            BaselineFlops = r.Baseline?.CumulativeFlops,
            r.Ratio,
        };
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
            comparison = c is null ? null : new
            {
                c.Stage,
                c.ProgressiveFlops,
                c.ProgressiveLoss,
                c.BaselineFlops,
                c.BaselineLoss,
                AtBaselineLoss = Reach(c.AtBaselineLoss),
                AtProgressiveLoss = Reach(c.AtProgressiveLoss),
            },
        };
        var options = new JsonSerializerOptions { WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, Converters = { new JsonStringEnumConverter() } };
        AtomicFile.Write(path, stream => JsonSerializer.Serialize(stream, json, options));
    }

    // The rows of each table, shared by the console and summary.md.
    private IEnumerable<string[]> StageRows()
        => Modes().SelectMany(m => m.Result.Stages.Select(s => new[]
        {
            m.Mode, StageLabel(m.Mode, s.Stage), Numbers.Count(s.Parameters), Numbers.Count(s.Steps), Numbers.Count(s.Tokens),
            Numbers.Flops(s.Flops), Numbers.Loss(s.ValidationLoss), Numbers.Seconds(s.WallSeconds),
        }));

    private IEnumerable<string[]> GrowthRows()
        => Progressive.Growths.Select(g => new[]
        {
            $"{g.From} → {g.To}", g.Policy.SpecName(), Numbers.Loss6(g.LossBefore), Numbers.Loss6(g.LossAfter), Numbers.Delta(g.Delta),
            g.PreservesFunction ? $"preserved (≤ {g.Tolerance:G})" : "not function-preserving",
        });

    private IEnumerable<string[]> ComparisonRows(GrowthComparison c)
    {
        var inv = CultureInfo.InvariantCulture;
        string Reached(CurvePoint? point, bool stage) => point is null ? "not reached" : Numbers.Flops(point.CumulativeFlops) + (stage ? $" ({point.Stage})" : "");
        string Ratio(ComputeToReach reach)
        {
            if (reach.Ratio is double r) return r.ToString("F2", inv);
            // The baseline never got there within its FLOPs: the ratio is below what it would be at its last point.
            return reach.Progressive is { } p && reach.Baseline is null ? $"< {(p.CumulativeFlops / c.BaselineFlops).ToString("F2", inv)}" : "-";
        }
        yield return ["training FLOPs", Numbers.Flops(c.ProgressiveFlops), Numbers.Flops(c.BaselineFlops), (c.ProgressiveFlops / c.BaselineFlops).ToString("F2", inv)];
        yield return ["final validation loss", Numbers.Loss(c.ProgressiveLoss), Numbers.Loss(c.BaselineLoss), ""];
        yield return [$"to reach {BaselineName}'s final loss {Numbers.Loss(c.AtBaselineLoss.TargetLoss)}", Reached(c.AtBaselineLoss.Progressive, true), Reached(c.AtBaselineLoss.Baseline, false), Ratio(c.AtBaselineLoss)];
        yield return [$"to reach the progressive run's final loss {Numbers.Loss(c.AtProgressiveLoss.TargetLoss)}", Reached(c.AtProgressiveLoss.Progressive, true), Reached(c.AtProgressiveLoss.Baseline, false), Ratio(c.AtProgressiveLoss)];
    }

    private string WallTimeSentence()
        => $"wall time of this invocation: progressive {Numbers.Seconds(ProgressiveSeconds)} s, scratch {Numbers.Seconds(ScratchSeconds)} s, whole run {Numbers.Seconds(TotalSeconds)} s "
           + $"(with tokenization and evaluation; {Threads} intra-op threads on {Environment.ProcessorCount} cores){(Resumed ? "; it resumed a run folder, so earlier work is not included" : "")}. "
           + "\"train s\" is training time per stage, summed over every process that trained it";

    private string StageLabel(string mode, string stage)
    {
        if (mode != ScheduleRunner.ScratchMode) return stage;
        if (stage == LargestStage) return $"{stage} (compute-matched)";
        return Family.EdgeInto(stage) is null ? $"{stage} (= progressive)" : stage;
    }

    private IEnumerable<(string Mode, ScheduleResult Result)> Modes()
    {
        yield return (ScheduleRunner.ProgressiveMode, Progressive);
        if (Scratch is not null) yield return (ScheduleRunner.ScratchMode, Scratch);
    }
}
