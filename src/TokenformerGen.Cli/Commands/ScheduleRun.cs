using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Spectre.Console;
using TokenformerGen.Cli.Infrastructure;
using TokenformerGen.Cli.Reports;
using TokenformerGen.Data;
using TokenformerGen.Modules;
using TokenformerGen.Scaling;

namespace TokenformerGen.Cli.Commands;

/// <summary>
/// One family's schedule as <c>run</c> executes it, shared by <c>run</c> (one setting) and <c>study</c> (many): the options
/// checked and resolved once, the corpus opened once, and each setting run resumably in its own run folder, which gets
/// its summary.md, plot and results.json.
/// </summary>
internal sealed class ScheduleRun : IDisposable
{
    private readonly CliSession _session;

    private ScheduleRun(CliSession session, FamilyRegistration family, IReadOnlyList<BaselineFamily> baselines, ScheduleOptions options, TokenCorpus corpus, string dataName)
    {
        (_session, Family, Baselines, Options, Corpus, DataName) = (session, family, baselines, options, corpus, dataName);
        DataIdentity = Identify(corpus);
    }

    /// <summary>The family.</summary>
    public FamilyRegistration Family { get; }

    /// <summary>The baseline families trained at the progressive run's compute (<c>--baseline-family</c>).</summary>
    public IReadOnlyList<BaselineFamily> Baselines { get; }

    /// <summary>The options every setting starts from (seeds and budget scale as given).</summary>
    public ScheduleOptions Options { get; }

    /// <summary>The tokenized corpus.</summary>
    public TokenCorpus Corpus { get; }

    /// <summary>The data file's name, for reports.</summary>
    public string DataName { get; }

    /// <summary>What the data is, independent of where it lies (part of every run folder's identity).</summary>
    public string DataIdentity { get; }

    /// <summary>Checks <paramref name="settings"/>, resolves the family and options and opens the corpus (threads are set first).</summary>
    public static ScheduleRun Prepare(CliSession session, RunSettings settings)
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
            PeakLearningRate = settings.LearningRate,
            Compute = target,
        };
        var baselines = (settings.BaselineFamilies ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(name => new BaselineFamily(session.Family(name, useDefault: false), settings.BaselineLearningRate)).ToList();
        if (settings.LearningRate is double lr && !(lr > 0) || settings.BaselineLearningRate is double blr && !(blr > 0)) throw new CliException("--lr and --baseline-lr must be positive");
        if (settings.BaselineLearningRate is not null && baselines.Count == 0) throw new CliException("--baseline-lr sets the baseline families' learning rate: give --baseline-family too");
        foreach (var baseline in baselines)
            if (baseline.Refusal(family, options) is { } refusal) throw new CliException($"--baseline-family: {refusal}");
        var corpus = session.OpenCorpus(family.Stages[0].Info, settings.Data, settings.Tokenizer, settings.Cache);
        return new ScheduleRun(session, family, baselines, options, corpus, Path.GetFileName(session.DataPath(settings.Data)));
    }

    /// <summary>A default run folder name: <c>runs/FAMILY-yyyyMMdd-HHmmss</c>.</summary>
    public string DefaultFolder(string kind = "")
        => Path.Combine(_session.Defaults.RunsDirectory, $"{Family.Name}{kind}-{DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}");

    /// <summary>The identity of a run folder of this schedule with <paramref name="options"/>.</summary>
    public IReadOnlyDictionary<string, string> Identity(ScheduleOptions options) => ScheduleRunner.Identity(Family, options, DataIdentity);

    /// <summary>Prints the schedule: stages, the baseline, the stage transitions.</summary>
    public void Describe(ScheduleOptions options)
    {
        var planner = new ScheduleRunner(Family, new CorpusBatchSource(Corpus, options.DataSeed), options);
        _session.Console.MarkupLineInterpolated(
            $"[bold]{Family.Name}[/]: {string.Join(" → ", planner.Progressive.Select(p => Stage(p)))}, {Numbers.Flops((double)planner.Progressive.Sum(p => p.Flops))} FLOPs");
        if (planner.Scratch.Count > 0)
        {
            var baseline = planner.Scratch[^1];
            _session.Console.MarkupLineInterpolated(
                $"baseline: {baseline.Stage.Name} from scratch, {baseline.Options.Steps:N0} steps, {Numbers.Flops((double)baseline.Flops)} FLOPs (at least the progressive run's){(options.Scratch == ScratchBaseline.All ? "; and every other stage from scratch for the progressive run's FLOPs up to it (the family figure)" : "")}");
        }
        foreach (var baseline in Baselines)
        {
            var plan = baseline.Plan(new CorpusBatchSource(Corpus, options.DataSeed), options, planner.PlannedFlops);
            string[] grown = baseline.Grows ? [$"grown {string.Join(" → ", plan.Progressive.Select(p => Stage(p)))}"] : [];
            var parts = grown.Concat(plan.Scratch.Select(p => Stage(p, " from scratch")));
            _session.Console.MarkupLineInterpolated($"baseline family {baseline.Family.Name} at the same compute: {string.Join("; ", parts)}");
        }
        _session.Console.MarkupLineInterpolated(
            $"optimizer at growth {OptionNames.Kebab(options.OptimizerGrowth)}, learning rate {OptionNames.Kebab(options.LearningRates)}{(options.PeakLearningRate is { } peak ? $" peaking at {peak:G} in every stage (--lr)" : "")}, {TorchSharp.torch.get_num_threads()} intra-op threads");
    }

    /// <summary>
    /// Runs (or finds finished, or resumes) the schedule with <paramref name="options"/> in <paramref name="directory"/>,
    /// with a progress bar per stage, and writes the folder's summary.md, plot and results.json.
    /// </summary>
    /// <exception cref="CliException">The folder holds another run or is in use.</exception>
    /// <exception cref="OperationCanceledException">Cancelled; the folder resumes from its last checkpoint.</exception>
    public RunReport Execute(ScheduleOptions options, string directory, CancellationToken cancellation)
    {
        var clock = Stopwatch.StartNew();
        var threads = TorchSharp.torch.get_num_threads().ToString(CultureInfo.InvariantCulture);
        using var folder = Claim(directory, Identity(options), new Dictionary<string, string> { [ThreadsNote] = threads });
        if (folder.Notes.GetValueOrDefault(ThreadsNote) is { } first && first != threads)
            _session.Console.MarkupLineInterpolated(
                $"[yellow]{directory} was started with {first} intra-op threads and resumes with {threads}: the result is as valid, but its losses differ from an uninterrupted run's in the last digits (libtorch's sums depend on the thread count); give --threads {first} to match it exactly[/]");
        _session.Console.MarkupLineInterpolated($"run folder {directory}{(folder.Resumed ? " (resuming what it holds)" : "")}");
        var data = new CorpusBatchSource(Corpus, options.DataSeed);
        var planner = new ScheduleRunner(Family, data, options);
        var plans = planner.Progressive.Concat(planner.Scratch.Where(p => !p.SharedWithProgressive)).ToList();

        var (progressive, scratch, baselines, seconds) = _session.Console.Progress().AutoClear(false).HideCompleted(false).Columns(CliSession.ProgressColumns()).Start(ctx =>
        {
            using var observer = new RunObserver(_session, directory, data.TokensPerByte, ctx, plans);
            var runner = new ScheduleRunner(Family, data, options, observer, folder);
            var progressiveClock = Stopwatch.StartNew();
            var progressiveRun = runner.RunProgressive(cancellation);
            var progressiveSeconds = progressiveClock.Elapsed.TotalSeconds;
            var scratchClock = Stopwatch.StartNew();
            var scratchRun = options.Scratch == ScratchBaseline.None ? null : runner.RunScratch(progressiveRun, cancellation);
            var baselineRuns = Baselines.Select(baseline => RunBaseline(baseline, data, options, planner.PlannedFlops, directory, ctx, cancellation)).ToList();
            return (progressiveRun, scratchRun, baselineRuns, (Progressive: progressiveSeconds, Scratch: scratchClock.Elapsed.TotalSeconds));
        });

        var report = new RunReport(Family, DataName, DataIdentity, Corpus.Count, Corpus.Tokenizer.Name,
                                   planner.Progressive[0].Options.Context, options, planner.LargestStage.Name, progressive, scratch,
                                   seconds.Progressive, seconds.Scratch, clock.Elapsed.TotalSeconds, TorchSharp.torch.get_num_threads(), folder.Resumed, baselines,
                                   UnreportedBaselines(directory));
        LossPlot.Save(Path.Combine(directory, RunReport.PlotFile), report);
        report.WriteMarkdown(Path.Combine(directory, "summary.md"));
        report.WriteJson(Path.Combine(directory, "results.json"));
        return report;
    }

    // Baseline families an earlier command left here that this one does not report (the report is rewritten without them).
    private List<string> UnreportedBaselines(string directory)
        => BaselineFamily.FamiliesIn(directory).Where(name => Baselines.All(b => b.Family.Name != name)).ToList();

    // A baseline family at the run's compute, in its own run folder inside the run's, with its own bars and metrics.
    private BaselineResult RunBaseline(BaselineFamily baseline, IBatchSource data, ScheduleOptions options, double flops, string directory,
                                       ProgressContext progress, CancellationToken cancellation)
    {
        var stages = baseline.Stages(data, options, flops);
        using var observer = new RunObserver(_session, Path.Combine(directory, baseline.FolderName), data.TokensPerByte, progress, stages, prefix: baseline.Family.Name + " ");
        try
        {
            return baseline.Run(Family, data, DataIdentity, options, flops, directory, observer, cancellation);
        }
        catch (RunFolderException e)
        {
            throw Refused(e);
        }
    }

    // "Small (295.17K params, 171 steps)".
    private static string Stage(StagePlan plan, string how = "")
        => $"{plan.Stage.Name}{how} ({Numbers.Short(plan.Stage.Parameters)} params, {plan.Options.Steps:N0} steps)";

    /// <summary>Claims a run (or study) folder, turning a refusal into one CLI error.</summary>
    public static RunFolder Claim(string directory, IReadOnlyDictionary<string, string> identity, IReadOnlyDictionary<string, string>? notes = null)
    {
        try
        {
            return RunFolder.Claim(directory, identity, notes);
        }
        catch (RunFolderException e)
        {
            throw Refused(e);
        }
    }

    private static CliException Refused(RunFolderException e)
        => new(e.Differences.Count > 0
            ? $"{e.Message} Give another --out, or repeat the command that made it to resume it."
            : e.Message + " Give another --out.");

    /// <summary>Closes the corpus.</summary>
    public void Dispose() => Corpus.Dispose();

    private const string ThreadsNote = "threads";

    // What the data is, independent of where it lies: a text's token cache is named by its content and tokenizer; a
    // NeoX dataset by its index's hash and the size of its ids.
    private static string Identify(TokenCorpus corpus)
    {
        if (corpus.Dataset is not { } dataset) return Path.GetFileNameWithoutExtension(corpus.CachePath);
        var index = dataset.Prefix + ".idx";
        using var stream = File.OpenRead(index);
        var hash = Convert.ToHexStringLower(SHA256.HashData(stream))[..16];
        return $"{Path.GetFileName(dataset.Prefix)} (NeoX dataset, {corpus.Tokenizer.Name} tokenizer, index sha256 {hash}, {new FileInfo(dataset.Prefix + ".bin").Length} bytes of ids)";
    }
}
