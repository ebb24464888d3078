using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
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
    [Description("From-scratch side: largest (the largest stage for at least the progressive run's FLOPs), all (also every other stage for at least the progressive run's FLOPs up to it: the family figure) or none")]
    [DefaultValue("largest")]
    public string Scratch { get; set; } = "largest";

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
        session.UseThreads(settings.Threads);
        var target = session.Compute(settings);
        var family = session.Family(settings.Family, useDefault: true);
        var missing = family.Stages.Where(s => s.Info.Budget is null).Select(s => s.Info.Name).ToList();
        if (missing.Count > 0)
            throw new CliException($"family {family.Name} cannot run its schedule: stage(s) {string.Join(", ", missing)} have no training budget (a train: section) in the spec");
        if (!(settings.Scale > 0)) throw new CliException("--scale must be positive");
        if (settings.Evals < 1 || settings.EvalBatches < 1) throw new CliException("--evals and --eval-batches must be at least 1");
        if (settings.CheckpointEvery is < 1) throw new CliException("--checkpoint-every must be at least 1");
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
            OptimizerGrowth = OptionParsing.OptimizerGrowth(settings.OptimizerGrowth) ?? TrainingSettings.ScheduleDefaults.OptimizerGrowth,
            LearningRates = OptionParsing.LearningRates(settings.LearningRates) ?? TrainingSettings.ScheduleDefaults.LearningRates,
            Scratch = OptionParsing.Scratch(settings.Scratch)!.Value,
            CheckpointInterval = settings.CheckpointEvery,
            Compute = target,
        };
        var outDirectory = settings.Out
            ?? Path.Combine(session.Defaults.RunsDirectory, $"{family.Name}-{DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}");
        var clock = Stopwatch.StartNew();

        using var corpus = session.OpenCorpus(family.Stages[0].Info, settings.Data, settings.Tokenizer, settings.Cache);
        var dataIdentity = DataIdentity(corpus);
        var threads = TorchSharp.torch.get_num_threads().ToString(CultureInfo.InvariantCulture);
        using var folder = Claim(outDirectory, ScheduleRunner.Identity(family, options, dataIdentity), new Dictionary<string, string> { [ThreadsNote] = threads });
        if (folder.Notes.GetValueOrDefault(ThreadsNote) is { } first && first != threads)
            session.Console.MarkupLineInterpolated(
                $"[yellow]{outDirectory} was started with {first} intra-op threads and resumes with {threads}: the result is as valid, but its losses differ from an uninterrupted run's in the last digits (libtorch's sums depend on the thread count); give --threads {first} to match it exactly[/]");
        var data = new CorpusBatchSource(corpus, settings.DataSeed);
        var planner = new ScheduleRunner(family, data, options);
        var plans = planner.Progressive.Concat(planner.Scratch.Where(p => !p.SharedWithProgressive)).ToList();
        session.Console.MarkupLineInterpolated(
            $"[bold]{family.Name}[/]: {string.Join(" → ", planner.Progressive.Select(p => $"{p.Stage.Name} ({Numbers.Short(p.Stage.Parameters)} params, {p.Options.Steps:N0} steps)"))}, {Numbers.Flops((double)planner.Progressive.Sum(p => p.Flops))} FLOPs");
        if (planner.Scratch.Count > 0)
        {
            var baseline = planner.Scratch[^1];
            session.Console.MarkupLineInterpolated(
                $"baseline: {baseline.Stage.Name} from scratch, {baseline.Options.Steps:N0} steps, {Numbers.Flops((double)baseline.Flops)} FLOPs (at least the progressive run's){(options.Scratch == ScratchBaseline.All ? "; and every other stage from scratch for the progressive run's FLOPs up to it (the family figure)" : "")}");
        }
        session.Console.MarkupLineInterpolated(
            $"optimizer at growth {OptionNames.Kebab(options.OptimizerGrowth)}, learning rate {OptionNames.Kebab(options.LearningRates)}, {TorchSharp.torch.get_num_threads()} intra-op threads; run folder {outDirectory}{(folder.Resumed ? " (resuming what it holds)" : "")}");

        try
        {
            var (progressive, scratch, seconds) = session.Console.Progress().AutoClear(false).HideCompleted(false).Columns(CliSession.ProgressColumns()).Start(ctx =>
            {
                using var observer = new RunObserver(session, outDirectory, data.TokensPerByte, ctx, plans);
                var runner = new ScheduleRunner(family, data, options, observer, folder);
                var progressiveClock = Stopwatch.StartNew();
                var progressiveRun = runner.RunProgressive(cancellationToken);
                var progressiveSeconds = progressiveClock.Elapsed.TotalSeconds;
                var scratchClock = Stopwatch.StartNew();
                var scratchRun = options.Scratch == ScratchBaseline.None ? null : runner.RunScratch(progressiveRun, cancellationToken);
                return (progressiveRun, scratchRun, (Progressive: progressiveSeconds, Scratch: scratchClock.Elapsed.TotalSeconds));
            });

            var report = new RunReport(family, Path.GetFileName(session.DataPath(settings.Data)), dataIdentity, corpus.Count, corpus.Tokenizer.Name,
                                       planner.Progressive[0].Options.Context, options, planner.LargestStage.Name, progressive, scratch,
                                       seconds.Progressive, seconds.Scratch, clock.Elapsed.TotalSeconds, TorchSharp.torch.get_num_threads(), folder.Resumed);
            LossPlot.Save(Path.Combine(outDirectory, RunReport.PlotFile), report);
            report.WriteMarkdown(Path.Combine(outDirectory, "summary.md"));
            report.WriteJson(Path.Combine(outDirectory, "results.json"));
            report.Render(session.Console);
            session.Console.MarkupLineInterpolated($"run folder: {outDirectory} (summary.md, {RunReport.PlotFile}, results.json, metrics and checkpoints per mode)");
            return 0;
        }
        catch (OperationCanceledException)
        {
            session.Console.MarkupLineInterpolated($"stopped; the same command again resumes from the last checkpoint in {outDirectory}");
            return 130;
        }
    }

    private const string ThreadsNote = "threads";

    private static RunFolder Claim(string directory, IReadOnlyDictionary<string, string> identity, IReadOnlyDictionary<string, string> notes)
    {
        try
        {
            return RunFolder.Claim(directory, identity, notes);
        }
        catch (RunFolderException e)
        {
            throw new CliException(e.Differences.Count > 0
                ? $"{e.Message} Give another --out, or repeat the command that made it to resume it."
                : e.Message + " Give another --out.");
        }
    }

    // What the data is, independent of where it lies: a text's token cache is named by its content and tokenizer; a
    // NeoX dataset by its index's hash and the size of its ids.
    private static string DataIdentity(TokenCorpus corpus)
    {
        if (corpus.Dataset is not { } dataset) return Path.GetFileNameWithoutExtension(corpus.CachePath);
        var index = dataset.Prefix + ".idx";
        using var stream = File.OpenRead(index);
        var hash = Convert.ToHexStringLower(SHA256.HashData(stream))[..16];
        return $"{Path.GetFileName(dataset.Prefix)} (NeoX dataset, {corpus.Tokenizer.Name} tokenizer, index sha256 {hash}, {new FileInfo(dataset.Prefix + ".bin").Length} bytes of ids)";
    }
}
