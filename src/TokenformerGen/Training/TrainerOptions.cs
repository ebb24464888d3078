using TokenformerGen.Families;

namespace TokenformerGen.Training;

/// <summary>The knobs of one training run (one stage). Defaults follow the spec's recipe.</summary>
public sealed record TrainerOptions
{
    /// <summary>Optimizer steps.</summary>
    public required long Steps { get; init; }

    /// <summary>Sequences per micro-batch.</summary>
    public required int Batch { get; init; }

    /// <summary>Tokens per sequence.</summary>
    public required int Context { get; init; }

    /// <summary>Micro-batches per optimizer step.</summary>
    public int GradientAccumulation { get; init; } = 1;

    /// <summary>Peak learning rate.</summary>
    public double LearningRate { get; init; } = 6e-4;

    /// <summary>Share of steps in linear warmup.</summary>
    public double WarmupShare { get; init; } = 0.01;

    /// <summary>Final learning rate as a share of the peak.</summary>
    public double MinimumLearningRateRatio { get; init; } = 0.1;

    /// <summary>Global gradient-norm clip (0 = off).</summary>
    public double ClipNorm { get; init; } = 1.0;

    /// <summary>Decoupled weight decay of matrices.</summary>
    public double WeightDecay { get; init; } = 0.1;

    /// <summary>Seed of the data order.</summary>
    public long DataSeed { get; init; } = 1;

    /// <summary>Validate every this many steps (0 = only at the end).</summary>
    public int EvalInterval { get; init; }

    /// <summary>Validation batches per evaluation.</summary>
    public int EvalBatches { get; init; } = 8;

    /// <summary>Checkpoint every this many steps (0 = only at the end); needs a checkpoint folder.</summary>
    public int CheckpointInterval { get; init; }

    /// <summary>
    /// The learning-rate curve to follow instead of the one <see cref="LearningRate"/>, <see cref="WarmupShare"/> and
    /// <see cref="MinimumLearningRateRatio"/> make over <see cref="Steps"/> (e.g. one curve over a whole growth schedule).
    /// </summary>
    public LearningRateSchedule? Schedule { get; init; }

    /// <summary>Tokens per optimizer step.</summary>
    public long TokensPerStep => (long)Batch * Context * GradientAccumulation;

    /// <summary>The learning-rate curve of this run: <see cref="Schedule"/>, else warmup and cosine over <see cref="Steps"/>.</summary>
    public LearningRateSchedule EffectiveSchedule
        => Schedule ?? LearningRateSchedule.WithWarmupShare(LearningRate, Steps, WarmupShare, MinimumLearningRateRatio);

    /// <summary>
    /// The options a stage's training budget translates to at <paramref name="context"/> tokens per sequence:
    /// the spec's batch, peak learning rate and warmup, and steps = round(tokens × <paramref name="budgetScale"/> / (batch × context)), at least one.
    /// </summary>
    /// <exception cref="ArgumentException">The spec gives the stage no budget.</exception>
    public static TrainerOptions ForBudget(StageInfo stage, int context, double budgetScale = 1)
    {
        var budget = stage.Budget ?? throw new ArgumentException($"Stage {stage.QualifiedName} has no training budget in its spec: give it a `train:` section.");
        return new TrainerOptions
        {
            Steps = Math.Max(1, (long)Math.Round(budget.Tokens * budgetScale / (budget.Batch * context))),
            Batch = (int)budget.Batch,
            Context = context,
            LearningRate = budget.LearningRate,
            WarmupShare = budget.Warmup,
        };
    }
}
