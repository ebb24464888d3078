using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using TokenformerGen.Cli.Infrastructure;
using TokenformerGen.Cli.Reports;
using TokenformerGen.Scaling;

namespace TokenformerGen.Cli.Commands;

internal class RunSettings : TrainingSettings
{
    [CommandOption("--family <F>")]
    [Description("The family whose schedule to run. Default: the application's")]
    public string? Family { get; set; }

    [CommandOption("--out <DIR>")]
    [Description("The run folder. Default: runs/FAMILY-yyyyMMdd-HHmmss. The same command again over the same folder resumes it; another command is refused")]
    public string? Out { get; set; }

    [CommandOption("--scale <X>")]
    [Description("Multiplies every stage's token budget (e.g. 0.1 for a quick look)")]
    [DefaultValue(1.0)]
    public double Scale { get; set; } = 1;

    [CommandOption("--context <T>")]
    [Description("Tokens per sequence. Default: the family's context")]
    public int? Context { get; set; }

    [CommandOption("--evals <N>")]
    [Description("Validation points per stage (the loss-vs-FLOPs curves); the baseline gets N per progressive stage")]
    [DefaultValue(8)]
    public int Evals { get; set; } = 8;

    [CommandOption("--lr-schedule <S>")]
    [Description("Learning rate across stages: restart (warmup and cosine per stage), global (one warmup and cosine over all stages) or rewarm (global, with a short ramp after each growth). Default: " + DefaultLearningRates)]
    public string? LearningRates { get; set; }

    [CommandOption("--scratch <S>")]
    [Description("From-scratch side: largest (the largest stage for at least the progressive run's FLOPs), all (also every other stage for at least the progressive run's FLOPs up to it: the family figure), frontier (every stage, the root too, for at least the progressive run's total FLOPs: the best model of any size at equal compute) or none")]
    [DefaultValue("largest")]
    public string Scratch { get; set; } = "largest";

    [CommandOption("--baseline-family <F>")]
    [Description("Other families as references at exactly this run's compute, comma-separated (e.g. TinyKjvStacked): a one-stage family trains from scratch; a grown one runs its own schedule lengthened to the same FLOPs, and its stages train from scratch as --scratch says (largest or frontier). Each in its own folder, baseline-FAMILY, inside the run folder")]
    public string? BaselineFamilies { get; set; }

    [CommandOption("--baseline-lr <X>")]
    [Description("Peak learning rate of every baseline family's stages (its own sweep's best). Default: --lr if given, else each stage's from its spec")]
    public double? BaselineLearningRate { get; set; }

    [CommandOption("--lr <X>")]
    [Description("Peak learning rate of every stage, progressive and from scratch (a learning-rate sweep). Default: each stage's from the spec")]
    public double? LearningRate { get; set; }

    [CommandOption("--checkpoint-every <K>")]
    [Description("Save each stage every K steps (a kill loses at most K steps). Default: at every validation point")]
    public int? CheckpointEvery { get; set; }

    /// <summary>How the help names the default of <c>--lr-schedule</c>, <see cref="ScheduleOptions.LearningRates"/> (chosen by the ablation in docs/scaling.md).</summary>
    public const string DefaultLearningRates = "global";
}

/// <summary>
/// Runs a family's schedule progressively (grow each stage from its trained parent) and its compute-matched baseline
/// (the largest stage from scratch for at least the same training FLOPs), resumably in its run folder, and reports
/// both directions of the comparison: a table, summary.md, a loss-vs-FLOPs plot, results.json, metrics and checkpoints.
/// </summary>
internal sealed class RunCommand(CliSession session) : Command<RunSettings>
{
    public override int Execute(CommandContext context, RunSettings settings, CancellationToken cancellationToken)
    {
        using var schedule = ScheduleRun.Prepare(session, settings);
        var directory = settings.Out ?? schedule.DefaultFolder();
        schedule.Describe(schedule.Options);
        try
        {
            var report = schedule.Execute(schedule.Options, directory, cancellationToken);
            report.Render(session.Console);
            session.Console.MarkupLineInterpolated($"run folder: {directory} (summary.md, {RunReport.PlotFile}, results.json, metrics and checkpoints per mode)");
            return 0;
        }
        catch (OperationCanceledException)
        {
            session.Console.MarkupLineInterpolated($"stopped; the same command again resumes from the last checkpoint in {directory}");
            return 130;
        }
    }
}
