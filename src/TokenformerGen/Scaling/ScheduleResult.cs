using TokenformerGen.Data;
using TokenformerGen.Growth;

namespace TokenformerGen.Scaling;

/// <summary>One measurement on the way, on both held-out splits.</summary>
/// <param name="Stage">The stage being trained.</param>
/// <param name="Step">Steps done in that stage.</param>
/// <param name="CumulativeFlops">Training FLOPs of the whole run so far (all stages of this mode).</param>
/// <param name="ValidationLoss">Validation loss (nats per token): what training watches and choices are made on.</param>
/// <param name="TestLoss">Test loss (nats per token) on the same number of batches: what results are reported on; null when the data has no test split.</param>
public sealed record CurvePoint(string Stage, long Step, double CumulativeFlops, double ValidationLoss, double? TestLoss = null)
{
    /// <summary>The loss on <paramref name="split"/> (NaN for a test loss that was not measured).</summary>
    public double LossOn(DataSplit split) => Losses.On(split, ValidationLoss, TestLoss);
}

/// <summary>What one stage cost and reached.</summary>
/// <param name="Stage">Stage name.</param>
/// <param name="Parameters">Trainable parameters.</param>
/// <param name="Steps">Optimizer steps.</param>
/// <param name="Tokens">Tokens trained on.</param>
/// <param name="Flops">Training FLOPs of this stage.</param>
/// <param name="ValidationLoss">Final validation loss.</param>
/// <param name="WallSeconds">Training wall time (summed over the processes that trained it, when it was resumed).</param>
/// <param name="LossBeforeGrowth">Validation loss of the trained parent just before growth (progressive only).</param>
/// <param name="LossAfterGrowth">Validation loss of the grown model before any training (progressive only).</param>
/// <param name="TestLoss">Final test loss on the curve's batches, or null when the data has no test split.</param>
/// <param name="FullTestLoss">Final loss over the whole test split in one deterministic pass (every window once, in order): the
/// figure results are read off; null when the data has no test split or the run predates it.</param>
public sealed record StageResult(string Stage, long Parameters, long Steps, long Tokens, double Flops, double ValidationLoss,
                                 double WallSeconds, double? LossBeforeGrowth, double? LossAfterGrowth, double? TestLoss = null, double? FullTestLoss = null)
{
    /// <summary>The final loss on <paramref name="split"/> (NaN for a test loss that was not measured).</summary>
    public double LossOn(DataSplit split) => Losses.On(split, ValidationLoss, TestLoss);
}

/// <summary>Which of a measurement's two losses a split names.</summary>
internal static class Losses
{
    public static double On(DataSplit split, double validation, double? test) => split switch
    {
        DataSplit.Validation => validation,
        DataSplit.Test => test ?? double.NaN,
        _ => throw new ArgumentOutOfRangeException(nameof(split), split, "losses are measured on the held-out splits"),
    };
}

/// <summary>A whole schedule run in one mode.</summary>
/// <param name="Mode">Progressive or from scratch.</param>
/// <param name="Stages">Per-stage results in the order trained.</param>
/// <param name="Curve">Validation loss against cumulative FLOPs, in the order measured.</param>
/// <param name="Growths">The growth checks, one per edge (progressive only).</param>
public sealed record ScheduleResult(RunMode Mode, IReadOnlyList<StageResult> Stages, IReadOnlyList<CurvePoint> Curve, IReadOnlyList<GrowthReport> Growths)
{
    /// <summary>Training FLOPs of all stages.</summary>
    public double TotalFlops => Stages.Sum(s => s.Flops);

    /// <summary>
    /// The first evaluation, in the order measured, whose loss on <paramref name="split"/> is at most <paramref name="target"/>
    /// (only among the points of <paramref name="stages"/> when given), or null when none gets there.
    /// </summary>
    public CurvePoint? FirstReaching(double target, DataSplit split, IReadOnlyCollection<string>? stages = null)
        => Curve.FirstOrDefault(p => (stages is null || stages.Contains(p.Stage)) && p.LossOn(split) <= target);
}
