using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using TokenformerGen.Checkpoints;
using TokenformerGen.Data;
using TokenformerGen.Declarations;
using TokenformerGen.Devices;
using TokenformerGen.Families;
using TokenformerGen.Growth;
using TokenformerGen.Modules;
using TokenformerGen.Training;

namespace TokenformerGen.Scaling;

/// <summary>Hears what a schedule run is doing (for progress bars and logs). Every member is optional.</summary>
public interface IScheduleObserver
{
    /// <summary>A stage starts training, at <paramref name="startStep"/> (above 0 when resumed from a checkpoint).</summary>
    void StageStarted(RunMode mode, StageInfo stage, long steps, long startStep) { }

    /// <summary>An optimizer step finished.</summary>
    void StepDone(RunMode mode, StageInfo stage, StepMetrics metrics) { }

    /// <summary>A validation point was measured.</summary>
    void Evaluated(RunMode mode, CurvePoint point) { }

    /// <summary>A stage was grown from its parent; the report's losses were measured on the same validation batches.</summary>
    void Grown(GrowthMap edge, GrowthReport report) { }

    /// <summary>A stage finished training.</summary>
    void StageFinished(RunMode mode, StageResult result) { }

    /// <summary>A stage was found finished (in the run folder, by an earlier process, or as the progressive run's root) and is not trained again.</summary>
    void StageFound(RunMode mode, StageResult result) { }
}

/// <summary>
/// Runs a family's schedule progressively (train the root, grow each later stage from its trained parent through
/// the edge's growth map, train on, reading on through one stream of batches) and its from-scratch baseline (the
/// largest stage alone for at least the progressive run's training FLOPs, with its own warmup and cosine). With a
/// <see cref="RunFolder"/>, every stage checkpoints model, optimizer, data position and its curve so far, and a run
/// started again over the same folder skips finished stages and resumes the current one where its last checkpoint
/// left it: training is deterministic, so the losses equal those of an uninterrupted run exactly.
/// </summary>
public sealed class ScheduleRunner
{
    private const string ModeKey = "run_mode", ResultKey = "schedule_result", CurveKey = "schedule_curve", GrowthKey = "schedule_growth";

    private static readonly JsonSerializerOptions Json = new()
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter() },
    };

    private readonly FamilyRegistration _family;
    private readonly IBatchSource _data;
    private readonly ScheduleOptions _options;
    private readonly IScheduleObserver _observer;
    private readonly RunFolder? _folder;

    /// <summary>Plans the run of <paramref name="family"/> over <paramref name="data"/>; with <paramref name="folder"/>, checkpoints there and resumes what it holds.</summary>
    /// <exception cref="ArgumentException">A stage has no training budget.</exception>
    public ScheduleRunner(FamilyRegistration family, IBatchSource data, ScheduleOptions options, IScheduleObserver? observer = null, RunFolder? folder = null)
    {
        (_family, _data, _options, _observer, _folder) = (family, data, options, observer ?? new NullObserver(), folder);
        Progressive = PlanProgressive();
        Scratch = PlanScratch();
    }

    /// <summary>The progressive run's stages in order.</summary>
    public IReadOnlyList<StagePlan> Progressive { get; }

    /// <summary>The progressive run's planned training FLOPs (what a baseline family is matched to), exactly as planned.</summary>
    public double PlannedFlops => (double)Progressive.Sum(p => p.Flops);

    /// <summary>The from-scratch stages in order, the compute-matched largest stage last (empty with <see cref="ScratchBaseline.None"/>).</summary>
    public IReadOnlyList<StagePlan> Scratch { get; }

    /// <summary>The largest stage, the one the compute-matched baseline trains.</summary>
    public StageInfo LargestStage => Largest(_family);

    private static StageInfo Largest(FamilyRegistration family) => family.Stages.Select(s => s.Info).MaxBy(s => s.Parameters)!;

    // The stages a scratch baseline trains (as declared), in schedule order.
    private static IEnumerable<StageInfo> ScratchStages(FamilyRegistration family, ScratchBaseline scratch) => scratch switch
    {
        ScratchBaseline.None => [],
        ScratchBaseline.Largest => [Largest(family)],
        _ => family.Stages.Select(s => s.Info),
    };

    /// <summary>
    /// What makes a run folder's content: family, spec, data, and every option that changes a number of the result
    /// (not the checkpoint interval, the growth tolerance, the device or the thread count).
    /// </summary>
    /// <param name="family">The family.</param>
    /// <param name="options">The options.</param>
    /// <param name="data">The identity of the data (e.g. file name, tokenizer and content hash).</param>
    public static IReadOnlyDictionary<string, string> Identity(FamilyRegistration family, ScheduleOptions options, string data)
    {
        var inv = CultureInfo.InvariantCulture;
        var growth = new GrowthOptions { Policy = options.Policy };
        var identity = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["format"] = "tokenformer-gen/run/3",
            ["held_out"] = "the last 5%: its first half validates (training, choices), its second half tests (results); every point measures both",
            ["family"] = family.Name,
            ["spec_hash"] = family.SpecHash,
            ["data"] = data,
            ["context"] = (options.Context ?? family.Stages[0].Info.Architecture.Context).ToString(inv),
            ["budget_scale"] = options.BudgetScale.ToString("R", inv),
            ["evaluations_per_stage"] = options.EvaluationsPerStage.ToString(inv),
            ["eval_batches"] = options.EvalBatches.ToString(inv),
            ["seed"] = options.Seed.ToString(inv),
            ["data_seed"] = options.DataSeed.ToString(inv),
            ["growth_policy"] = string.Join(", ", family.Edges.Select(e => $"{e.From.Name}→{e.To.Name} {growth.PolicyFor(e).SpecName()}")),
            ["optimizer_growth"] = OptionNames.Kebab(options.OptimizerGrowth),
            ["lr_schedule"] = OptionNames.Kebab(options.LearningRates),
            ["scratch"] = OptionNames.Kebab(options.Scratch),
            ["precision"] = options.Compute.Precision.Name(),
        };
        // Only a matched run records its budget (and only a swept one its learning rate), so the folders of runs on their own schedule keep their identity.
        if (options.MatchedFlops is { } matched) identity["matched_flops"] = matched.ToString("R", inv);
        if (options.PeakLearningRate is { } rate) identity["learning_rate"] = rate.ToString("R", inv);
        // From scratch a stage trains with its own τ; only where that differs from its declared τ does the folder say so.
        if (ScratchStages(family, options.Scratch).Any(s => s.HasBorrowedTau)) identity["scratch_tau"] = CheckpointMetadata.OwnTauValue;
        return identity;
    }

    /// <summary>Trains (or finds finished) every stage of the progressive run.</summary>
    /// <exception cref="OperationCanceledException">Cancelled: with a run folder, the current stage was saved where it stopped.</exception>
    public ScheduleResult RunProgressive(CancellationToken cancellation = default)
    {
        var run = new ModeRun(RunMode.Progressive);
        TrainedStage? previous = null;
        try
        {
            foreach (var plan in Progressive)
            {
                if (Finished(plan) is { } finished)
                {
                    run.Add(finished);
                    _observer.StageFound(plan.Mode, finished.Result);
                    previous?.Dispose();
                    previous = null;
                    continue;
                }
                var model = _family.Stage(plan.Stage.Name).Create().Place(_options.Compute);
                try
                {
                    var start = Resume(plan, model) ?? StartProgressive(plan, model, previous);
                    previous?.Dispose();
                    previous = null;
                    var (record, trained) = Train(plan, model, start, run.Flops, cancellation);
                    run.Add(record);
                    previous = trained;
                }
                catch
                {
                    model.Dispose();
                    throw;
                }
            }
        }
        finally
        {
            previous?.Dispose();
        }
        return run.Result();
    }

    /// <summary>
    /// Trains (or finds finished) the from-scratch stages: the compute-matched largest stage, and with
    /// <see cref="ScratchBaseline.All"/> every other one for at least the progressive run's FLOPs up to it. Each trains with
    /// √n τ of its own counts (<see cref="TokenformerModel.UseOwnTau"/>), as it would on its own. A stage that is the progressive run's root
    /// trained the same way is taken from <paramref name="progressive"/>; with no progressive run (null: a baseline family
    /// of one stage, which only trains from scratch) every stage trains.
    /// </summary>
    /// <exception cref="OperationCanceledException">Cancelled: with a run folder, the current stage was saved where it stopped.</exception>
    public ScheduleResult RunScratch(ScheduleResult? progressive, CancellationToken cancellation = default)
    {
        var run = new ModeRun(RunMode.Scratch);
        foreach (var plan in Scratch)
        {
            if (plan.SharedWithProgressive && progressive is not null)
            {
                var result = progressive.Stages.Single(s => s.Stage == plan.Stage.Name);
                run.Add(new StageRecord(result, progressive.Curve.Where(p => p.Stage == plan.Stage.Name).ToList(), null));
                _observer.StageFound(plan.Mode, result);
                continue;
            }
            if (Finished(plan) is { } finished)
            {
                run.Add(finished);
                _observer.StageFound(plan.Mode, finished.Result);
                continue;
            }
            // A stage trained on its own would have √n τ of its own counts, not the one it keeps from its root when grown.
            var model = _family.Stage(plan.Stage.Name).Create().UseOwnTau().Place(_options.Compute);
            try
            {
                var start = Resume(plan, model) ?? FromScratch(model);
                var (record, trained) = Train(plan, model, start, 0, cancellation);
                run.Add(record);
                trained.Dispose();
            }
            catch
            {
                model.Dispose();
                throw;
            }
        }
        return run.Result();
    }

    private StageStart FromScratch(TokenformerModel model)
    {
        model.InitializeFromScratch(_options.Seed);
        return new StageStart(null, null, [], null);
    }

    // The root starts from scratch; a later stage grows from its trained parent (in memory, or from its finished file).
    private StageStart StartProgressive(StagePlan plan, TokenformerModel model, TrainedStage? previous)
    {
        var edge = _family.EdgeInto(plan.Stage.Name);
        if (edge is null) return FromScratch(model);
        var parent = previous?.Stage == edge.From.Name ? previous : LoadFinished(Progressive.Single(p => p.Stage.Name == edge.From.Name));
        try
        {
            // Both models are measured on the same validation batches (the grown stage's batch size).
            double Validate(TokenformerModel m) => Evaluation.Loss(m, _data, plan.Options.Batch, plan.Options.Context, _options.EvalBatches);
            var (growth, optimizer) = StageGrowth.GrowWithOptimizer(edge, parent.Model, parent.Optimizer, model, _options.OptimizerGrowth,
                                                                    new GrowthOptions { Policy = _options.Policy, Seed = _options.Seed }, Validate, _options.GrowthTolerance);
            _observer.Grown(edge, growth);
            return new StageStart(optimizer, null, [], growth);
        }
        finally
        {
            if (!ReferenceEquals(parent, previous)) parent.Dispose();
        }
    }

    private (StageRecord Record, TrainedStage Trained) Train(StagePlan plan, TokenformerModel model, StageStart start, double flopsBefore, CancellationToken cancellation)
    {
        var data = plan.DataStart == 0 ? _data : new OffsetBatches(_data, plan.DataStart);
        var trainer = new Trainer(model, data, plan.Options, start.Optimizer, start.Progress);
        try
        {
            _observer.StageStarted(plan.Mode, plan.Stage, plan.Options.Steps, trainer.Progress.Step);
            var points = start.Points;
            // The loop is stopped only after a step, so a stopped stage always has a checkpoint of a step it trained.
            using var stop = new CancellationTokenSource();
            var curve = new CurveObserver(this, plan, trainer, flopsBefore, points, cancellation, stop);
            if (trainer.Progress.Step == 0) curve.Evaluated(0, trainer.Evaluate(), null);   // the curve starts before the first step
            var directory = StageDirectory(plan);
            var outcome = TrainingLoop.Run(trainer, directory, metrics: null, curve, stop.Token,
                                           () => State(plan, points, start.Growth, null), checkpointLastStep: false);
            if (!trainer.Done) throw new OperationCanceledException($"{plan.Mode.Name()} {plan.Stage.Name} stopped at step {trainer.Progress.Step}.", cancellation);
            var progress = outcome.Progress;
            // The whole test split once, in order, with the stage's batch and context: the final figure results are read off.
            var fullTest = Evaluation.Loss(model, data, plan.Options.Batch, plan.Options.Context, int.MaxValue, DataSplit.Test);
            var result = new StageResult(plan.Stage.Name, plan.Stage.Parameters, progress.Step, progress.Tokens, progress.Flops,
                                         outcome.ValidationLoss, progress.WallSeconds, start.Growth?.LossBefore, start.Growth?.LossAfter,
                                         points.Count > 0 && points[^1].Step == progress.Step ? points[^1].TestLoss : null,
                                         double.IsNaN(fullTest) ? null : fullTest);
            if (directory is not null)
            {
                // The finished stage is one file, written after its final evaluation; its checkpoints are then redundant.
                TrainingCheckpoints.Write(FinishedPath(plan)!, trainer, State(plan, points, start.Growth, result));
                if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
            }
            _observer.StageFinished(plan.Mode, result);
            return (new StageRecord(result, points, start.Growth), new TrainedStage(plan.Stage.Name, model, trainer.Optimizer));
        }
        catch
        {
            trainer.Dispose();
            throw;
        }
    }

    // A stage's checkpoints while it trains, and the file of the finished stage (model and optimizer, result and curve).
    private string? StageDirectory(StagePlan plan) => _folder is null ? null : Path.Combine(_folder.Directory, plan.Mode.Name(), plan.Stage.Name);

    private string? FinishedPath(StagePlan plan) => StageDirectory(plan) is { } directory ? directory + ".safetensors" : null;

    private StageStart? Resume(StagePlan plan, TokenformerModel model)
    {
        var directory = StageDirectory(plan);
        if (directory is null || !Directory.Exists(directory) || TrainingCheckpoints.Latest(directory) is not { } latest) return null;
        var (optimizer, progress) = TrainingCheckpoints.Resume(latest, model, plan.Options);
        var (points, growth, _) = ReadState(latest);
        return new StageStart(optimizer, progress, points, growth);
    }

    private StageRecord? Finished(StagePlan plan)
    {
        if (FinishedPath(plan) is not { } path || !File.Exists(path)) return null;
        var (points, growth, result) = ReadState(path);
        if (StageDirectory(plan) is { } directory && Directory.Exists(directory)) Directory.Delete(directory, recursive: true);   // left by a kill just after the stage's file was written
        return new StageRecord(result ?? throw new InvalidDataException($"{path} holds no stage result (key '{ResultKey}')."), points, growth);
    }

    private TrainedStage LoadFinished(StagePlan plan)
    {
        var model = _family.Stage(plan.Stage.Name).Create().Place(_options.Compute);
        try
        {
            var (optimizer, _) = TrainingCheckpoints.Resume(FinishedPath(plan) ?? throw new InvalidOperationException($"{plan.Stage.Name} is not in memory and there is no run folder."), model, plan.Options);
            return new TrainedStage(plan.Stage.Name, model, optimizer);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static Dictionary<string, string> State(StagePlan plan, List<CurvePoint> points, GrowthReport? growth, StageResult? result)
    {
        var state = new Dictionary<string, string> { [ModeKey] = plan.Mode.Name(), [CurveKey] = JsonSerializer.Serialize(points, Json) };
        if (growth is not null) state[GrowthKey] = JsonSerializer.Serialize(growth, Json);
        if (result is not null) state[ResultKey] = JsonSerializer.Serialize(result, Json);
        return state;
    }

    private static (List<CurvePoint> Points, GrowthReport? Growth, StageResult? Result) ReadState(string path)
    {
        var extra = Checkpoint.ReadMetadata(path).Extra;
        T? Read<T>(string key) where T : class
        {
            if (!extra.TryGetValue(key, out var text)) return null;
            try
            {
                return JsonSerializer.Deserialize<T>(text, Json);
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{path}: metadata '{key}' is not valid: {e.Message}", e);
            }
        }
        var points = Read<List<CurvePoint>>(CurveKey) ?? throw new InvalidDataException($"{path} is not a checkpoint of a schedule run: it has no '{CurveKey}' metadata.");
        return (points, Read<GrowthReport>(GrowthKey), Read<StageResult>(ResultKey));
    }

    private List<StagePlan> PlanProgressive()
    {
        var stages = _family.Stages.Select(s => s.Info).ToList();
        var options = stages.Select(StageOptions).ToList();
        if (_options.MatchedFlops is { } matched)
        {
            // Every stage's steps scaled by one factor (rounded down), so the schedule keeps its shares; then the last stage
            // makes up the rest, so the run spends at least the match and less than one of its steps more.
            decimal PerStep(int i) => new StagePlan(RunMode.Progressive, stages[i], options[i], 0).FlopsPerStep;
            var factor = (decimal)matched / options.Select((o, i) => o.Steps * PerStep(i)).Sum();
            options = options.Select(o => o with { Steps = Math.Max(1, (long)decimal.Floor(o.Steps * factor)) }).ToList();
            var missing = (decimal)matched - options.Select((o, i) => o.Steps * PerStep(i)).Sum();
            if (missing > 0) options[^1] = options[^1] with { Steps = options[^1].Steps + (long)decimal.Ceiling(missing / PerStep(options.Count - 1)) };
        }
        var total = options.Sum(o => o.Steps);
        var rootWarmup = options[0].WarmupShare;
        var plans = new List<StagePlan>();
        long start = 0;
        for (var i = 0; i < stages.Count; i++)
        {
            var stage = options[i];
            var schedule = _options.LearningRates switch
            {
                StageLearningRates.Restart => null,
                _ => LearningRateSchedule.WithWarmupShare(stage.LearningRate, total, rootWarmup, stage.MinimumLearningRateRatio) with
                {
                    StartStep = start,
                    RewarmSteps = _options.LearningRates == StageLearningRates.Rewarm && i > 0 ? Math.Max(1, (long)Math.Round(stage.WarmupShare * stage.Steps)) : 0,
                },
            };
            plans.Add(new StagePlan(RunMode.Progressive, stages[i], WithIntervals(stage, _options.EvaluationsPerStage) with { Schedule = schedule }, start));
            start += stage.Steps;
        }
        return plans;
    }

    // The largest stage for at least the progressive run's FLOPs (same batch and context); with All every stage for at least
    // the progressive run's cumulative FLOPs up to and including it (the family-level comparison); with Frontier every stage
    // for at least the whole progressive FLOPs. Each gets as many evaluations per FLOP as the progressive run.
    private List<StagePlan> PlanScratch()
    {
        if (_options.Scratch == ScratchBaseline.None) return [];
        var plans = new List<StagePlan>();
        var total = _options.MatchedFlops is { } matched ? (decimal)matched : Progressive.Sum(p => p.Flops);
        decimal cumulative = 0;
        for (var i = 0; i < Progressive.Count; i++)
        {
            var progressive = Progressive[i];
            cumulative += progressive.Flops;
            if (ScratchStages(_family, _options.Scratch).All(s => s.Name != progressive.Stage.Name)) continue;
            var stage = progressive.Stage.WithOwnTau();
            var full = stage.Name == LargestStage.Name || _options.Scratch == ScratchBaseline.Frontier;
            var budget = full ? total : cumulative;
            var options = StageOptions(stage);
            var perStep = new StagePlan(RunMode.Scratch, stage, options, 0).FlopsPerStep;
            options = options with { Steps = (long)decimal.Ceiling(budget / perStep) };
            var stagesCovered = full ? Progressive.Count : i + 1;
            // The root is taken from the progressive run only where it trained exactly as a scratch run would: with its own τ,
            // and its own warmup and cosine over its steps. Under one curve across stages it never anneals, so it trains again.
            var shared = _family.EdgeInto(stage.Name) is null && stage == progressive.Stage
                         && progressive.Options.Steps == options.Steps && progressive.Options.Schedule is null;
            plans.Add(new StagePlan(RunMode.Scratch, stage, WithIntervals(options, _options.EvaluationsPerStage * stagesCovered), 0, shared));
        }
        return plans;
    }

    private TrainerOptions StageOptions(StageInfo stage)
    {
        var options = TrainerOptions.ForBudget(stage, _options.Context ?? (int)stage.Architecture.Context, _options.BudgetScale);
        return options with
        {
            EvalBatches = _options.EvalBatches,
            DataSeed = _options.DataSeed,
            LearningRate = _options.PeakLearningRate ?? options.LearningRate,
        };
    }

    private TrainerOptions WithIntervals(TrainerOptions options, int evaluations)
    {
        var evalInterval = (int)Math.Clamp(options.Steps / Math.Max(1, evaluations), 1, int.MaxValue);
        return options with { EvalInterval = evalInterval, CheckpointInterval = _options.CheckpointInterval ?? evalInterval };
    }

    // How a stage begins: nothing (fresh), a grown optimizer, or a checkpoint's optimizer, progress and curve so far.
    private sealed record StageStart(AdamW? Optimizer, TrainingProgress? Progress, List<CurvePoint> Points, GrowthReport? Growth);

    private sealed record StageRecord(StageResult Result, IReadOnlyList<CurvePoint> Points, GrowthReport? Growth);

    private sealed record TrainedStage(string Stage, TokenformerModel Model, AdamW Optimizer) : IDisposable
    {
        public void Dispose()
        {
            Optimizer.Dispose();
            Model.Dispose();
        }
    }

    private sealed class ModeRun(RunMode mode)
    {
        private readonly List<StageRecord> _records = [];

        public double Flops => _records.Sum(r => r.Result.Flops);

        public void Add(StageRecord record) => _records.Add(record);

        public ScheduleResult Result() => new(mode, _records.Select(r => r.Result).ToList(), _records.SelectMany(r => r.Points).ToList(),
                                              _records.Where(r => r.Growth is not null).Select(r => r.Growth!).ToList());
    }

    // Turns the training loop's evaluations into points of the loss-vs-cumulative-FLOPs curve. An evaluation at a step
    // just saved is the final one of a cancelled run (interval evaluations come before the save): a resumed run does not
    // repeat it, so neither the curve nor the observer gets it.
    private sealed class CurveObserver(ScheduleRunner runner, StagePlan plan, Trainer trainer, double flopsBefore, List<CurvePoint> points,
                                       CancellationToken cancellation, CancellationTokenSource stop)
        : ITrainingObserver
    {
        private long _savedStep = -1;

        public void StepDone(StepMetrics metrics)
        {
            runner._observer.StepDone(plan.Mode, plan.Stage, metrics);
            if (cancellation.IsCancellationRequested) stop.Cancel();
        }

        public void Saved(string path, long step) => _savedStep = step;

        public void Evaluated(long step, double validationLoss, double? bitsPerByte)
        {
            if (step == _savedStep) return;
            // The test split at every point too, on as many batches: the curves that results are read off.
            var test = Evaluation.Loss(trainer.Model, trainer.Data, plan.Options.Batch, plan.Options.Context, plan.Options.EvalBatches, DataSplit.Test);
            var point = new CurvePoint(plan.Stage.Name, step, flopsBefore + trainer.Progress.Flops, validationLoss, double.IsNaN(test) ? null : test);
            points.Add(point);
            runner._observer.Evaluated(plan.Mode, point);
        }
    }

    private sealed class NullObserver : IScheduleObserver;
}

/// <summary>Option values as the command line and the run folder spell them.</summary>
public static class OptionNames
{
    /// <summary><c>KeepZero</c> → <c>keep-zero</c>.</summary>
    public static string Kebab<T>(T value) where T : struct, Enum
        => string.Concat(value.ToString().Select((c, i) => char.IsUpper(c) ? (i > 0 ? "-" : "") + char.ToLowerInvariant(c) : c.ToString()));
}
