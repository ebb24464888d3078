using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Cli;
using TokenformerGen.Cli.Infrastructure;
using TokenformerGen.Cli.Reports;
using TokenformerGen.Data;
using TokenformerGen.Scaling;

namespace TokenformerGen.Cli.Commands;

internal sealed class RunSettings : TrainingSettings
{
    [CommandOption("--family <F>")]
    [Description("The family whose schedule to run. Default: the application's")]
    public string? Family { get; set; }

    [CommandOption("--out <DIR>")]
    [Description("The run folder. Default: runs/FAMILY-yyyyMMdd-HHmmss")]
    public string? Out { get; set; }

    [CommandOption("--scale <X>")]
    [Description("Multiplies every stage's token budget (e.g. 0.1 for a quick look)")]
    [DefaultValue(1.0)]
    public double Scale { get; set; } = 1;

    [CommandOption("--context <T>")]
    [Description("Tokens per sequence. Default: the family's context")]
    public int? Context { get; set; }

    [CommandOption("--evals <N>")]
    [Description("Validation points per stage (the loss-vs-FLOPs curves)")]
    [DefaultValue(8)]
    public int Evals { get; set; } = 8;
}

/// <summary>
/// Runs a family's whole schedule twice, progressively (grow each stage from its trained parent) and
/// from scratch, and reports what growing saved: a table, summary.md, a loss-vs-FLOPs plot, metrics and checkpoints.
/// </summary>
internal sealed class RunCommand(CliSession session) : Command<RunSettings>
{
    public override int Execute(CommandContext context, RunSettings settings, CancellationToken cancellationToken)
    {
        session.UseThreads(settings.Threads);
        var target = session.Compute(settings);
        var family = session.Family(settings.Family, useDefault: true);
        var missing = family.Stages.Where(s => s.Info.Budget is null).Select(s => s.Info.Name).ToList();
        if (missing.Count > 0)
            throw new CliException($"family {family.Name} cannot run its schedule: stage(s) {string.Join(", ", missing)} have no training budget (a train: section) in the spec");
        if (!(settings.Scale > 0)) throw new CliException("--scale must be positive");
        if (settings.Evals < 1 || settings.EvalBatches < 1) throw new CliException("--evals and --eval-batches must be at least 1");
        var architecture = family.Stages[0].Info.Architecture;
        if (settings.Context is int c && (c < 1 || c > architecture.Context))
            throw new CliException($"--context {c}: give 1..{architecture.Context} (the family's context)");
        var options = new ScheduleOptions
        {
            Context = settings.Context,
            BudgetScale = settings.Scale,
            EvaluationsPerStage = settings.Evals,
            EvalBatches = settings.EvalBatches,
            Seed = settings.Seed,
            DataSeed = settings.DataSeed,
            Policy = OptionParsing.Policy(settings.Policy),
            OptimizerGrowth = OptionParsing.OptimizerGrowth(settings.OptimizerGrowth),
            Compute = target,
        };
        var outDirectory = settings.Out
            ?? Path.Combine(session.Defaults.RunsDirectory, $"{family.Name}-{DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}");
        Directory.CreateDirectory(outDirectory);
        var clock = Stopwatch.StartNew();

        using var corpus = session.OpenCorpus(family.Stages[0].Info, settings.Data, settings.Tokenizer, settings.Cache);
        var data = new CorpusBatchSource(corpus, settings.DataSeed);
        var runner = new ScheduleRunner(family, data, options);
        var plan = family.Stages.Select(s => (Stage: s.Info, Steps: runner.StageOptions(s.Info).Steps)).ToList();
        session.Console.MarkupLineInterpolated(
            $"[bold]{family.Name}[/]: {string.Join(" → ", plan.Select(p => $"{p.Stage.Name} ({Numbers.Short(p.Stage.Parameters)} params, {p.Steps:N0} steps)"))}; progressive and scratch; run folder {outDirectory}");

        var (progressive, scratch, observer) = session.Console.Progress().AutoClear(false).HideCompleted(false).Columns(CliSession.ProgressColumns()).Start(ctx =>
        {
            using var observer = new RunObserver(session, outDirectory, family, data.TokensPerByte, ctx, plan);
            var progressiveRun = Timed(() => new ScheduleRunner(family, data, options, observer).RunProgressive());
            var scratchRun = Timed(() => new ScheduleRunner(family, data, options, observer).RunScratch());
            return (progressiveRun, scratchRun, observer);
        });

        var report = new RunReport(family, Path.GetFileName(session.DataPath(settings.Data)), corpus.Count, corpus.Tokenizer.Name,
                                   runner.StageOptions(family.Stages[0].Info).Context, options, progressive.Result, scratch.Result,
                                   observer.Growths, progressive.Seconds, scratch.Seconds, clock.Elapsed.TotalSeconds);
        var summary = Path.Combine(outDirectory, "summary.md");
        var plot = Path.Combine(outDirectory, RunReport.PlotFile);
        LossPlot.Save(plot, report);
        report.WriteMarkdown(summary);
        report.WriteJson(Path.Combine(outDirectory, "results.json"));
        report.Render(session.Console);
        session.Console.MarkupLineInterpolated($"run folder: {outDirectory} (summary.md, {RunReport.PlotFile}, results.json, metrics and checkpoints per mode)");
        return 0;
    }

    private static (ScheduleResult Result, double Seconds) Timed(Func<ScheduleResult> run)
    {
        var clock = Stopwatch.StartNew();
        var result = run();
        return (result, clock.Elapsed.TotalSeconds);
    }
}
