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
/// <param name="WallSeconds">Training wall time.</param>
/// <param name="LossBeforeGrowth">Validation loss of the trained parent just before growth (progressive only).</param>
/// <param name="LossAfterGrowth">Validation loss of the grown model before any training (progressive only).</param>
public sealed record StageResult(string Stage, long Parameters, long Steps, long Tokens, double Flops, double ValidationLoss,
                                 double WallSeconds, double? LossBeforeGrowth, double? LossAfterGrowth);

/// <summary>A whole schedule run in one mode.</summary>
/// <param name="Mode">"progressive" or "scratch".</param>
/// <param name="Stages">Per-stage results in schedule order.</param>
/// <param name="Curve">Validation loss against cumulative FLOPs.</param>
public sealed record ScheduleResult(string Mode, IReadOnlyList<StageResult> Stages, IReadOnlyList<CurvePoint> Curve)
{
    /// <summary>Training FLOPs of all stages.</summary>
    public double TotalFlops => Stages.Sum(s => s.Flops);

    /// <summary>
    /// Cumulative FLOPs at the first evaluation of <paramref name="stage"/> whose loss is at most
    /// <paramref name="target"/>, or null when it never gets there.
    /// </summary>
    public double? FlopsToReach(double target, string stage)
        => Curve.Where(p => p.Stage == stage && p.ValidationLoss <= target).Select(p => (double?)p.CumulativeFlops).FirstOrDefault();
}
