using TokenformerGen.Families;
using TokenformerGen.Training;

namespace TokenformerGen.Scaling;

/// <summary>The learning-rate curve of a progressive run across its stages.</summary>
public enum StageLearningRates
{
    /// <summary>Every stage warms up again and decays by its own cosine (the spec's recipe, as the paper trains each stage).</summary>
    Restart,
    /// <summary>One warmup and one cosine over the steps of all stages: a growth neither raises nor restarts the learning rate.</summary>
    Global,
    /// <summary>The <see cref="Global"/> curve, and after each growth a short linear ramp up to it (the stage's warmup share of its steps).</summary>
    Rewarm,
}

/// <summary>What the from-scratch side of a run trains.</summary>
public enum ScratchBaseline
{
    /// <summary>The largest stage alone, for at least the progressive run's total training FLOPs (the fair comparison).</summary>
    Largest,
    /// <summary>
    /// Every stage from scratch for at least the progressive run's cumulative FLOPs up to and including it (the largest: its
    /// whole FLOPs; the root: its own, so the root's run is the progressive one's): the family-level comparison.
    /// </summary>
    All,
    /// <summary>
    /// Every stage from scratch for at least the progressive run's <em>total</em> training FLOPs, each with its own warmup and
    /// cosine (the root too): the budget frontier, the best model of any size the same compute trains from scratch.
    /// </summary>
    Frontier,
    /// <summary>No from-scratch run (the progressive schedule alone).</summary>
    None,
}

/// <summary>How to run a family's schedule.</summary>
public sealed record ScheduleOptions
{
    /// <summary>Tokens per sequence (defaults to the family's context).</summary>
    public int? Context { get; init; }

    /// <summary>Scales every stage's token budget (1 = as in the spec); lets tests run a schedule in seconds.</summary>
    public double BudgetScale { get; init; } = 1;

    /// <summary>
    /// Evaluations per stage (they make the loss-vs-compute curves). The compute-matched baseline, one stage as long as
    /// the whole progressive run, gets this many per progressive stage.
    /// </summary>
    public int EvaluationsPerStage { get; init; } = 8;

    /// <summary>Validation batches per evaluation.</summary>
    public int EvalBatches { get; init; } = 8;

    /// <summary>Seed of from-scratch initialisation and of random rows at growth.</summary>
    public long Seed { get; init; } = 1234;

    /// <summary>Seed of the data order (recorded; the batch source given to the runner applies it).</summary>
    public long DataSeed { get; init; } = 1;

    /// <summary>Overrides the spec's growth policy.</summary>
    public GrowthPolicy? Policy { get; init; }

    /// <summary>How optimizer state follows growth (default chosen by the ablation in docs/scaling.md).</summary>
    public OptimizerGrowthMode OptimizerGrowth { get; init; } = OptimizerGrowthMode.KeepZero;

    /// <summary>The learning-rate curve across stages (default chosen by the ablation in docs/scaling.md).</summary>
    public StageLearningRates LearningRates { get; init; } = StageLearningRates.Global;

    /// <summary>What the from-scratch side trains.</summary>
    public ScratchBaseline Scratch { get; init; } = ScratchBaseline.Largest;

    /// <summary>Largest tolerated |loss after − loss before| at a <c>zero_keys</c> growth (null: the precision's, see <see cref="Growth.StageGrowth.ToleranceFor"/>).</summary>
    public double? GrowthTolerance { get; init; }

    /// <summary>Where every stage trains and in what precision.</summary>
    public Devices.ComputeTarget Compute { get; init; } = Devices.ComputeTarget.Cpu;

    /// <summary>Replaces every stage's peak learning rate, progressive and from scratch (null: each stage's from the spec). For learning-rate sweeps.</summary>
    public double? PeakLearningRate { get; init; }

    /// <summary>
    /// Another run's training FLOPs this one is matched to (null: its own schedule's): every from-scratch stage trains for at
    /// least this many, and the progressive schedule's stages are lengthened (or shortened) in proportion so that together
    /// they spend at least this many. How a baseline family runs at exactly the compute of the family it is compared with.
    /// </summary>
    public double? MatchedFlops { get; init; }

    /// <summary>With a run folder, save every this many steps (null: at every evaluation).</summary>
    public int? CheckpointInterval { get; init; }
}
