using TokenformerGen.Data;
using TokenformerGen.Families;
using TokenformerGen.Growth;
using TokenformerGen.Modules;
using TokenformerGen.Training;

namespace TokenformerGen.Scaling;

/// <summary>Hears what a schedule run is doing (for progress bars and logs). Every member is optional.</summary>
public interface IScheduleObserver
{
    /// <summary>A stage starts training.</summary>
    void StageStarted(string mode, StageInfo stage, long steps) { }

    /// <summary>An optimizer step finished.</summary>
    void StepDone(string mode, StageInfo stage, StepMetrics metrics) { }

    /// <summary>A validation point was measured.</summary>
    void Evaluated(string mode, CurvePoint point) { }

    /// <summary>A stage was grown from its parent; the report's losses were measured on the same validation batches.</summary>
    void Grown(GrowthMap edge, GrowthReport report) { }

    /// <summary>A stage finished training.</summary>
    void StageFinished(string mode, StageResult result, TokenformerModel model) { }
}

/// <summary>
/// Runs a family's schedule: progressively (train the root, grow each later stage from its parent
/// through the edge's growth map, train on) or from scratch (every stage alone, same budget rules).
/// </summary>
public sealed class ScheduleRunner(FamilyRegistration family, IBatchSource data, ScheduleOptions options, IScheduleObserver? observer = null)
{
    private readonly IScheduleObserver _observer = observer ?? new NullObserver();

    /// <summary>Trains the root from scratch and grows every later stage from its trained parent.</summary>
    public ScheduleResult RunProgressive()
    {
        const string mode = "progressive";
        var trained = new Dictionary<string, (TokenformerModel Model, AdamW Optimizer)>();
        var results = new List<StageResult>();
        var curve = new List<CurvePoint>();
        double flopsBefore = 0;
        try
        {
            foreach (var registration in family.Stages)
            {
                var stage = registration.Info;
                var model = registration.Create().Place(options.Compute);
                var edge = family.EdgeInto(stage.Name);
                AdamW? optimizer = null;
                double? lossBefore = null, lossAfter = null;
                if (edge is null)
                {
                    model.InitializeFromScratch(options.Seed);
                }
                else
                {
                    var (parent, parentOptimizer) = trained[edge.From.Name];
                    var report = StageGrowth.GrowInto(edge, parent, model, new GrowthOptions { Policy = options.Policy, Seed = options.Seed }, Validate, options.GrowthTolerance);
                    (lossBefore, lossAfter) = (report.LossBefore, report.LossAfter);
                    _observer.Grown(edge, report);
                    optimizer = AdamW.Grow(parentOptimizer, model.NamedParameters(), options.OptimizerGrowth);
                }
                var (result, trainer) = TrainStage(mode, stage, model, optimizer, flopsBefore, curve, lossBefore, lossAfter);
                trained[stage.Name] = (model, trainer.Optimizer);
                flopsBefore += result.Flops;
                results.Add(result);
            }
        }
        finally
        {
            foreach (var (model, optimizer) in trained.Values)
            {
                optimizer.Dispose();
                model.Dispose();
            }
        }
        return new ScheduleResult(mode, results, curve);
    }

    /// <summary>Trains every stage from scratch with the same budget rules; each stage's FLOPs count from zero.</summary>
    public ScheduleResult RunScratch()
    {
        const string mode = "scratch";
        var results = new List<StageResult>();
        var curve = new List<CurvePoint>();
        foreach (var registration in family.Stages)
        {
            using var model = registration.Create().Place(options.Compute);
            model.InitializeFromScratch(options.Seed);
            var (result, trainer) = TrainStage(mode, registration.Info, model, null, 0, curve, null, null);
            trainer.Dispose();
            results.Add(result);
        }
        return new ScheduleResult(mode, results, curve);
    }

    /// <summary>The trainer options a stage's budget translates to under this run's context, scale, evaluation and data seed.</summary>
    public TrainerOptions StageOptions(StageInfo stage)
        => TrainerOptions.ForBudget(stage, options.Context ?? (int)stage.Architecture.Context, options.BudgetScale) with
        {
            EvalBatches = options.EvalBatches,
            DataSeed = options.DataSeed,
        };

    private (StageResult Result, Trainer Trainer) TrainStage(string mode, StageInfo stage, TokenformerModel model, AdamW? optimizer,
                                                           double flopsBefore, List<CurvePoint> curve, double? lossBefore, double? lossAfter)
    {
        var stageOptions = StageOptions(stage);
        var trainerOptions = stageOptions with { EvalInterval = (int)Math.Max(1, stageOptions.Steps / Math.Max(1, options.EvaluationsPerStage)) };
        var trainer = new Trainer(model, data, trainerOptions, optimizer);
        _observer.StageStarted(mode, stage, trainerOptions.Steps);
        var curveObserver = new CurveObserver(this, mode, stage, trainer, flopsBefore, curve);
        curveObserver.Evaluated(0, trainer.Evaluate(), null);   // the curve starts before the first step
        var outcome = TrainingLoop.Run(trainer, checkpointDirectory: null, metrics: null, curveObserver);
        var progress = outcome.Progress;
        var result = new StageResult(stage.Name, stage.Parameters, progress.Step, progress.Tokens, progress.Flops,
                                     outcome.ValidationLoss, progress.WallSeconds, lossBefore, lossAfter);
        _observer.StageFinished(mode, result, model);
        return (result, trainer);
    }

    // Turns the training loop's evaluations into points of the loss-vs-cumulative-FLOPs curve.
    private sealed class CurveObserver(ScheduleRunner runner, string mode, StageInfo stage, Trainer trainer, double flopsBefore, List<CurvePoint> curve)
        : ITrainingObserver
    {
        public void StepDone(StepMetrics metrics) => runner._observer.StepDone(mode, stage, metrics);

        public void Evaluated(long step, double validationLoss, double? bitsPerByte)
        {
            var point = new CurvePoint(stage.Name, step, flopsBefore + trainer.Progress.Flops, validationLoss);
            curve.Add(point);
            runner._observer.Evaluated(mode, point);
        }
    }

    private double Validate(TokenformerModel model) => Evaluation.Loss(model, data, StageOptions(model.Stage).Batch, options.Context ?? (int)model.Stage.Architecture.Context, options.EvalBatches);


    private sealed class NullObserver : IScheduleObserver;
}
