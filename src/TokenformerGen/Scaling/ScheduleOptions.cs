using TokenformerGen.Families;
using TokenformerGen.Training;

namespace TokenformerGen.Scaling;

/// <summary>How to run a family's schedule.</summary>
public sealed record ScheduleOptions
{
    /// <summary>Tokens per sequence (defaults to the family's context).</summary>
    public int? Context { get; init; }

    /// <summary>Scales every stage's token budget (1 = as in the spec); lets tests run a schedule in seconds.</summary>
    public double BudgetScale { get; init; } = 1;

    /// <summary>Evaluations per stage (they make the loss-vs-compute curves).</summary>
    public int EvaluationsPerStage { get; init; } = 8;

    /// <summary>Validation batches per evaluation.</summary>
    public int EvalBatches { get; init; } = 8;

    /// <summary>Seed of from-scratch initialisation.</summary>
    public long Seed { get; init; } = 1234;

    /// <summary>Seed of the data order.</summary>
    public long DataSeed { get; init; } = 1;

    /// <summary>Overrides the spec's growth policy.</summary>
    public GrowthPolicy? Policy { get; init; }

    /// <summary>How optimizer state follows growth.</summary>
    public OptimizerGrowthMode OptimizerGrowth { get; init; } = OptimizerGrowthMode.Reset;

    /// <summary>Largest tolerated |loss after − loss before| at a <c>zero_keys</c> growth (null: the precision's, see <see cref="Growth.StageGrowth.ToleranceFor"/>).</summary>
    public double? GrowthTolerance { get; init; }

    /// <summary>Where every stage trains and in what precision.</summary>
    public Devices.ComputeTarget Compute { get; init; } = Devices.ComputeTarget.Cpu;
}
