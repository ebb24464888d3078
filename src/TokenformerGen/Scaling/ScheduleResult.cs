using TokenformerGen.Growth;

namespace TokenformerGen.Scaling;

/// <summary>One validation measurement on the way.</summary>
/// <param name="Stage">The stage being trained.</param>
/// <param name="Step">Steps done in that stage.</param>
/// <param name="CumulativeFlops">Training FLOPs of the whole run so far (all stages of this mode).</param>
/// <param name="ValidationLoss">Validation loss (nats per token).</param>
public sealed record CurvePoint(string Stage, long Step, double CumulativeFlops, double ValidationLoss);

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
public sealed record StageResult(string Stage, long Parameters, long Steps, long Tokens, double Flops, double ValidationLoss,
                                 double WallSeconds, double? LossBeforeGrowth, double? LossAfterGrowth);

/// <summary>A whole schedule run in one mode.</summary>
/// <param name="Mode">"progressive" or "scratch".</param>
/// <param name="Stages">Per-stage results in the order trained.</param>
/// <param name="Curve">Validation loss against cumulative FLOPs, in the order measured.</param>
/// <param name="Growths">The growth checks, one per edge (progressive only).</param>
public sealed record ScheduleResult(string Mode, IReadOnlyList<StageResult> Stages, IReadOnlyList<CurvePoint> Curve, IReadOnlyList<GrowthReport> Growths)
{
    /// <summary>Training FLOPs of all stages.</summary>
    public double TotalFlops => Stages.Sum(s => s.Flops);

    /// <summary>
    /// The first evaluation, in the order measured, whose loss is at most <paramref name="target"/> (only of
    /// <paramref name="stage"/> when given), or null when none gets there.
    /// </summary>
    public CurvePoint? FirstReaching(double target, string? stage = null)
        => Curve.FirstOrDefault(p => (stage is null || p.Stage == stage) && p.ValidationLoss <= target);

    /// <summary>
    /// Cumulative FLOPs at the first evaluation of <paramref name="stage"/> whose loss is at most
    /// <paramref name="target"/>, or null when it never gets there.
    /// </summary>
    public double? FlopsToReach(double target, string stage) => FirstReaching(target, stage)?.CumulativeFlops;
}
