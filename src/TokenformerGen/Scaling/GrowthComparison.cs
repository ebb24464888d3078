namespace TokenformerGen.Scaling;

/// <summary>Where each run first reached a validation loss: the first evaluation at or below it, in the order measured.</summary>
/// <param name="TargetLoss">The loss.</param>
/// <param name="Progressive">The progressive run's first point at or below it (cumulative FLOPs over its stages, and the stage it was training), or null.</param>
/// <param name="Baseline">The baseline's first point at or below it, or null.</param>
public sealed record ComputeToReach(double TargetLoss, CurvePoint? Progressive, CurvePoint? Baseline)
{
    /// <summary>Progressive FLOPs / baseline FLOPs (below 1: growing got there with less compute); null unless both got there.</summary>
    public double? Ratio => Progressive is { } p && Baseline is { CumulativeFlops: > 0 } b ? p.CumulativeFlops / b.CumulativeFlops : null;
}

/// <summary>
/// The fair comparison of a progressive run with its compute-matched baseline (the largest stage trained from scratch
/// for at least the progressive run's training FLOPs): their final losses at equal compute, and in both directions the
/// compute each needed to reach the other's final loss.
/// </summary>
/// <param name="Stage">The largest stage, which the baseline trains.</param>
/// <param name="ProgressiveFlops">Training FLOPs of the whole progressive run.</param>
/// <param name="ProgressiveLoss">Its final validation loss.</param>
/// <param name="BaselineFlops">Training FLOPs of the baseline (at least <paramref name="ProgressiveFlops"/>, less than one step more).</param>
/// <param name="BaselineLoss">Its final validation loss.</param>
/// <param name="AtBaselineLoss">Compute to reach the baseline's final loss.</param>
/// <param name="AtProgressiveLoss">Compute to reach the progressive run's final loss.</param>
public sealed record GrowthComparison(string Stage, double ProgressiveFlops, double ProgressiveLoss, double BaselineFlops, double BaselineLoss,
                                      ComputeToReach AtBaselineLoss, ComputeToReach AtProgressiveLoss)
{
    /// <summary>Compares <paramref name="progressive"/> with the run of <paramref name="stage"/> in <paramref name="scratch"/>.</summary>
    /// <exception cref="ArgumentException">The scratch run did not train <paramref name="stage"/>, or the progressive run is empty.</exception>
    public static GrowthComparison Of(ScheduleResult progressive, ScheduleResult scratch, string stage)
    {
        var baseline = scratch.Stages.SingleOrDefault(s => s.Stage == stage) ?? throw new ArgumentException($"The scratch run has no stage {stage}.", nameof(scratch));
        var last = progressive.Stages.Count > 0 ? progressive.Stages[^1] : throw new ArgumentException("The progressive run has no stage.", nameof(progressive));
        ComputeToReach Reach(double loss) => new(loss, progressive.FirstReaching(loss), scratch.FirstReaching(loss, stage));
        return new GrowthComparison(stage, progressive.TotalFlops, last.ValidationLoss, baseline.Flops, baseline.ValidationLoss,
                                    Reach(baseline.ValidationLoss), Reach(last.ValidationLoss));
    }
}
