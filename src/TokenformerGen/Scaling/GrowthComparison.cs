using TokenformerGen.Data;

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
/// compute each needed to reach the other's final loss, all on one held-out split.
/// </summary>
/// <param name="Split">The split every loss of the comparison is measured on.</param>
/// <param name="Stage">The largest stage, which the baseline trains.</param>
/// <param name="ProgressiveFlops">Training FLOPs of the whole progressive run.</param>
/// <param name="ProgressiveLoss">Its final validation loss.</param>
/// <param name="BaselineFlops">Training FLOPs of the baseline (at least <paramref name="ProgressiveFlops"/>, less than one step more).</param>
/// <param name="BaselineLoss">Its final validation loss.</param>
/// <param name="AtBaselineLoss">Compute to reach the baseline's final loss.</param>
/// <param name="AtProgressiveLoss">Compute to reach the progressive run's final loss.</param>
public sealed record GrowthComparison(DataSplit Split, string Stage, double ProgressiveFlops, double ProgressiveLoss, double BaselineFlops, double BaselineLoss,
                                      ComputeToReach AtBaselineLoss, ComputeToReach AtProgressiveLoss)
{
    /// <summary>Compares <paramref name="progressive"/> with the run of <paramref name="stage"/> in <paramref name="scratch"/>, on <paramref name="split"/>.</summary>
    /// <exception cref="ArgumentException">The scratch run did not train <paramref name="stage"/>, or the progressive run is empty.</exception>
    public static GrowthComparison Of(ScheduleResult progressive, ScheduleResult scratch, string stage, DataSplit split)
    {
        var baseline = scratch.Stages.SingleOrDefault(s => s.Stage == stage) ?? throw new ArgumentException($"The scratch run has no stage {stage}.", nameof(scratch));
        var last = progressive.Stages.Count > 0 ? progressive.Stages[^1] : throw new ArgumentException("The progressive run has no stage.", nameof(progressive));
        ComputeToReach Reach(double loss) => new(loss, progressive.FirstReaching(loss, split), scratch.FirstReaching(loss, split, [stage]));
        return new GrowthComparison(split, stage, progressive.TotalFlops, last.LossOn(split), baseline.Flops, baseline.LossOn(split),
                                    Reach(baseline.LossOn(split)), Reach(last.LossOn(split)));
    }

    /// <summary>
    /// The headline ratio: progressive FLOPs to reach the baseline's final loss ÷ the baseline's FLOPs to it. When the
    /// progressive run never got there it is null (growing did not reach the baseline's loss).
    /// </summary>
    public double? Ratio => AtBaselineLoss.Ratio;

    /// <summary>
    /// The other direction: progressive FLOPs to its own final loss ÷ the baseline's FLOPs to it; when the baseline never
    /// got there, an upper bound (its FLOPs are more than all it had), with <see cref="ReverseIsBound"/> set.
    /// </summary>
    public double? ReverseRatio => AtProgressiveLoss.Ratio ?? (AtProgressiveLoss.Progressive is { } p && AtProgressiveLoss.Baseline is null ? p.CumulativeFlops / BaselineFlops : null);

    /// <summary>True when <see cref="ReverseRatio"/> is an upper bound (the baseline did not reach the progressive run's final loss).</summary>
    public bool ReverseIsBound => AtProgressiveLoss.Ratio is null && AtProgressiveLoss.Progressive is not null && AtProgressiveLoss.Baseline is null;
}
