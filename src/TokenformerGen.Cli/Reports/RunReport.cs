using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;
using TokenformerGen.Checkpoints;
using TokenformerGen.Cli.Infrastructure;
using TokenformerGen.Families;
using TokenformerGen.Growth;
using TokenformerGen.Scaling;

namespace TokenformerGen.Cli.Reports;

/// <summary>What growing saved: the compute each mode needed to reach the scratch run's final loss of the largest stage.</summary>
/// <param name="Stage">The largest stage.</param>
/// <param name="TargetLoss">The scratch run's final validation loss of that stage.</param>
/// <param name="ProgressiveFlops">Cumulative FLOPs of the progressive run (all stages) at its first validation point at or below the target; null when never.</param>
/// <param name="ScratchFlops">FLOPs of the scratch run of that stage at its first point at or below the target.</param>
/// <param name="ProgressiveStage">The stage the progressive run was training when it got there.</param>
internal sealed record ComputeComparison(string Stage, double TargetLoss, double? ProgressiveFlops, double? ScratchFlops, string? ProgressiveStage)
{
    /// <summary>Progressive FLOPs / scratch FLOPs (below 1: growing was cheaper).</summary>
    public double? Ratio => ProgressiveFlops is double p && ScratchFlops is double s && s > 0 ? p / s : null;
}

/// <summary>The outcome of <c>run</c>: both modes, the growth checks, the compute comparison; as a console table, summary.md and JSON.</summary>
internal sealed record RunReport(
    FamilyRegistration Family, string Data, long DataTokens, string Tokenizer, int Context, ScheduleOptions Options,
    ScheduleResult Progressive, ScheduleResult Scratch, IReadOnlyList<GrowthReport> Growths,
    double ProgressiveSeconds, double ScratchSeconds, double TotalSeconds)
{
    /// <summary>File name of the plot in the run folder.</summary>
    public const string PlotFile = "loss-vs-flops.png";

    /// <summary>The compute comparison at the scratch run's final loss of the largest stage.</summary>
    public ComputeComparison Comparison
    {
        get
        {
            var largest = Family.Stages.Select(s => s.Info).MaxBy(s => s.Parameters)!.Name;
            var target = Scratch.Stages.Single(s => s.Stage == largest).ValidationLoss;
            // Progressive: the first point of any stage, in schedule order, that gets there (growing is cumulative).
            var progressive = Family.Stages.Select(s => (Stage: s.Info.Name, Flops: Progressive.FlopsToReach(target, s.Info.Name))).FirstOrDefault(f => f.Flops is not null);
            return new ComputeComparison(largest, target, progressive.Flops, Scratch.FlopsToReach(target, largest), progressive.Stage);
        }
    }

    /// <summary>Prints the tables.</summary>
    public void Render(IAnsiConsole console)
    {
        var table = new Table().Title($"{Markup.Escape(Family.Name)}: progressive vs scratch").AddColumns("mode", "stage", "parameters", "tokens", "FLOPs", "val loss", "wall s");
        foreach (var column in table.Columns.Skip(2)) column.RightAligned();
        foreach (var (mode, result, seconds) in Modes())
        {
            foreach (var s in result.Stages)
                table.AddRow(mode, Markup.Escape(s.Stage), Numbers.Count(s.Parameters), Numbers.Short(s.Tokens), Numbers.Flops(s.Flops), Numbers.Loss(s.ValidationLoss), Numbers.Seconds(s.WallSeconds));
            table.AddRow($"[bold]{mode}[/]", "[bold]total[/]", "", Numbers.Short(result.Stages.Sum(s => s.Tokens)), Numbers.Flops(result.TotalFlops), "", Numbers.Seconds(result.Stages.Sum(s => s.WallSeconds)));
        }
        console.Write(table);
        console.MarkupLine(Markup.Escape($"wall time with evaluation: progressive {Numbers.Seconds(ProgressiveSeconds)} s, scratch {Numbers.Seconds(ScratchSeconds)} s, whole run {Numbers.Seconds(TotalSeconds)} s"));

        if (Growths.Count > 0)
        {
            var growth = new Table().Title("growth checks: validation loss just before and after growing (same batches)").AddColumns("edge", "policy", "before", "after", "Δ", "check");
            foreach (var g in Growths)
                growth.AddRow(Markup.Escape($"{g.From} → {g.To}"), g.Policy.SpecName(), Numbers.Loss6(g.LossBefore), Numbers.Loss6(g.LossAfter), Numbers.Delta(g.Delta),
                              g.PreservesFunction ? $"[green]preserved (≤ {g.Tolerance:G})[/]" : "not function-preserving");
            console.Write(growth);
        }
        console.MarkupLine(Markup.Escape(ComparisonSentence()));
    }

    /// <summary>One sentence with the compute comparison.</summary>
    public string ComparisonSentence()
    {
        var c = Comparison;
        var head = $"compute to reach scratch {c.Stage}'s final validation loss {Numbers.Loss(c.TargetLoss)}: ";
        if (c.ProgressiveFlops is not double p) return head + $"the progressive run did not get there within its budget (scratch: {Numbers.Flops(c.ScratchFlops ?? double.NaN)} FLOPs)";
        return head + $"progressive {Numbers.Flops(p)} FLOPs (cumulative, reached while training {c.ProgressiveStage}), scratch {Numbers.Flops(c.ScratchFlops!.Value)} FLOPs; ratio {c.Ratio!.Value.ToString("F2", CultureInfo.InvariantCulture)}"
               + (c.Ratio < 1 ? $" (growing needed {c.Ratio.Value * 100:F0}% of the compute)" : "");
    }

    /// <summary>Writes summary.md.</summary>
    public void WriteMarkdown(string path)
    {
        var md = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        md.AppendLine($"# Progressive scaling: {Family.Name}").AppendLine();
        md.AppendLine($"- data: `{Data}`, {Numbers.Count(DataTokens)} tokens ({Tokenizer} tokenizer), last 5% held out for validation");
        md.AppendLine(inv, $"- context {Context}, budget scale {Options.BudgetScale.ToString("G", inv)}, {Options.EvaluationsPerStage} validation points per stage of {Options.EvalBatches} batches, seed {Options.Seed}, data seed {Options.DataSeed}, optimizer at growth: {Options.OptimizerGrowth.ToString().ToLowerInvariant()}");
        md.AppendLine(inv, $"- wall time: progressive {Numbers.Seconds(ProgressiveSeconds)} s, scratch {Numbers.Seconds(ScratchSeconds)} s, whole run {Numbers.Seconds(TotalSeconds)} s (including tokenization and evaluation) on {Environment.ProcessorCount} cores");
        md.AppendLine($"- spec sha256 `{Family.SpecHash}`").AppendLine();

        md.AppendLine("## Per stage").AppendLine();
        md.AppendLine("| mode | stage | parameters | steps | tokens | FLOPs | val loss | wall s |");
        md.AppendLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var (mode, result, _) in Modes())
            foreach (var s in result.Stages)
                md.AppendLine(inv, $"| {mode} | {s.Stage} | {Numbers.Count(s.Parameters)} | {Numbers.Count(s.Steps)} | {Numbers.Count(s.Tokens)} | {Numbers.Flops(s.Flops)} | {Numbers.Loss(s.ValidationLoss)} | {Numbers.Seconds(s.WallSeconds)} |");
        md.AppendLine().AppendLine(inv, $"Total training FLOPs: progressive {Numbers.Flops(Progressive.TotalFlops)}, scratch {Numbers.Flops(Scratch.TotalFlops)}. Wall times are training only; the run times above include evaluation.").AppendLine();

        if (Growths.Count > 0)
        {
            md.AppendLine("## Growth checks").AppendLine();
            md.AppendLine("Validation loss of the trained parent just before growing and of the grown model just after, before any training, on the same batches.").AppendLine();
            md.AppendLine("| edge | policy | before | after | Δ | check |");
            md.AppendLine("| --- | --- | ---: | ---: | ---: | --- |");
            foreach (var g in Growths)
                md.AppendLine(inv, $"| {g.From} → {g.To} | {g.Policy.SpecName()} | {Numbers.Loss6(g.LossBefore)} | {Numbers.Loss6(g.LossAfter)} | {Numbers.Delta(g.Delta)} | {(g.PreservesFunction ? $"preserved (≤ {g.Tolerance:G})" : "not function-preserving")} |");
            md.AppendLine();
        }

        var c = Comparison;
        md.AppendLine("## Compute to reach the scratch run's final loss").AppendLine();
        md.AppendLine(inv, $"Target: scratch {c.Stage}'s final validation loss {Numbers.Loss(c.TargetLoss)}. FLOPs at the first validation point at or below it (progressive: cumulative over all its stages).").AppendLine();
        md.AppendLine("| mode | FLOPs |");
        md.AppendLine("| --- | ---: |");
        md.AppendLine($"| progressive | {(c.ProgressiveFlops is double p ? $"{Numbers.Flops(p)} (while training {c.ProgressiveStage})" : "not reached")} |");
        md.AppendLine($"| scratch | {(c.ScratchFlops is double sf ? Numbers.Flops(sf) : "not reached")} |");
        md.AppendLine($"| ratio progressive / scratch | {(c.Ratio is double r ? r.ToString("F2", inv) : "-")} |").AppendLine();
        md.AppendLine(ComparisonSentence() + ".").AppendLine();
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
        var json = new
        {
            family = Family.Name,
            spec_hash = Family.SpecHash,
            data = Data,
            data_tokens = DataTokens,
            context = Context,
            budget_scale = Options.BudgetScale,
            progressive = Progressive,
            scratch = Scratch,
            progressive_seconds = ProgressiveSeconds,
            scratch_seconds = ScratchSeconds,
            total_seconds = TotalSeconds,
            growths = Growths,
            comparison = new { Comparison.Stage, Comparison.TargetLoss, Comparison.ProgressiveFlops, Comparison.ProgressiveStage, Comparison.ScratchFlops, Comparison.Ratio },
        };
        var options = new JsonSerializerOptions { WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, Converters = { new JsonStringEnumConverter() } };
        AtomicFile.Write(path, stream => JsonSerializer.Serialize(stream, json, options));
    }

    private IEnumerable<(string Mode, ScheduleResult Result, double Seconds)> Modes()
    {
        yield return ("progressive", Progressive, ProgressiveSeconds);
        yield return ("scratch", Scratch, ScratchSeconds);
    }
}
