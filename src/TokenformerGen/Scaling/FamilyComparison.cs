using TokenformerGen.Data;

namespace TokenformerGen.Scaling;

/// <summary>One stage of the family-level comparison: the progressive run's stage against the same stage trained from scratch.</summary>
/// <param name="Stage">The stage.</param>
/// <param name="ProgressiveFlops">The progressive run's cumulative training FLOPs at the end of this stage.</param>
/// <param name="ProgressiveLoss">Its final loss in this stage.</param>
/// <param name="ScratchFlops">Training FLOPs of the stage from scratch (at least <paramref name="ProgressiveFlops"/>).</param>
/// <param name="ScratchLoss">Its final loss.</param>
/// <param name="ScratchReaching">The scratch stage's first point at or below <paramref name="ProgressiveLoss"/>, or null.</param>
/// <param name="ProgressiveReaching">The progressive run's first point, in this stage or an earlier one, at or below <paramref name="ScratchLoss"/>, or null.</param>
public sealed record FamilyStage(string Stage, double ProgressiveFlops, double ProgressiveLoss, double ScratchFlops, double ScratchLoss,
                                 CurvePoint? ScratchReaching, CurvePoint? ProgressiveReaching);

/// <summary>
/// The paper's family-level figure: growing gives every stage of the family for the progressive run's FLOPs; training
/// the family from scratch needs, for each stage, the FLOPs scratch took to reach that stage's progressive final loss.
/// <see cref="Ratio"/> is the first over the sum of the second — the share of the family's from-scratch budget that
/// growing needed. Every stage is trained from scratch for at least the progressive run's cumulative FLOPs up to it.
/// </summary>
/// <param name="Split">The split every loss is measured on.</param>
/// <param name="ProgressiveFlops">Training FLOPs of the whole progressive run.</param>
/// <param name="Stages">Each stage, in schedule order.</param>
public sealed record FamilyComparison(DataSplit Split, double ProgressiveFlops, IReadOnlyList<FamilyStage> Stages)
{
    /// <summary>
    /// Progressive FLOPs ÷ the sum over stages of the scratch FLOPs to reach the progressive stage's final loss. A stage
    /// scratch did not bring there counts with all its FLOPs, which it needed more than: the ratio is then an upper bound
    /// (<see cref="RatioIsBound"/>).
    /// </summary>
    public double Ratio => ProgressiveFlops / Stages.Sum(s => s.ScratchReaching?.CumulativeFlops ?? s.ScratchFlops);

    /// <summary>True when some stage from scratch did not reach its progressive final loss, so <see cref="Ratio"/> is an upper bound.</summary>
    public bool RatioIsBound => Stages.Any(s => s.ScratchReaching is null);

    /// <summary>
    /// The other direction: the progressive FLOPs by which it had reached every scratch stage's final loss (each with a stage
    /// no larger) ÷ the FLOPs of the whole family from scratch; null when it missed one of them.
    /// </summary>
    public double? ReverseRatio => Stages.All(s => s.ProgressiveReaching is not null)
        ? Stages.Max(s => s.ProgressiveReaching!.CumulativeFlops) / Stages.Sum(s => s.ScratchFlops)
        : null;

    /// <summary>
    /// The comparison of <paramref name="progressive"/> with <paramref name="scratch"/> over <paramref name="stages"/> (schedule
    /// order), or null unless the scratch run trained every one of them.
    /// </summary>
    public static FamilyComparison? Of(ScheduleResult progressive, ScheduleResult scratch, IReadOnlyList<string> stages, DataSplit split)
    {
        if (stages.Any(name => scratch.Stages.All(s => s.Stage != name) || progressive.Stages.All(s => s.Stage != name))) return null;
        var rows = new List<FamilyStage>();
        double cumulative = 0;
        for (var i = 0; i < stages.Count; i++)
        {
            var grown = progressive.Stages.Single(s => s.Stage == stages[i]);
            var alone = scratch.Stages.Single(s => s.Stage == stages[i]);
            cumulative += grown.Flops;
            rows.Add(new FamilyStage(stages[i], cumulative, grown.LossOn(split), alone.Flops, alone.LossOn(split),
                                     scratch.FirstReaching(grown.LossOn(split), split, [stages[i]]),
                                     progressive.FirstReaching(alone.LossOn(split), split, stages.Take(i + 1).ToList())));
        }
        return new FamilyComparison(split, progressive.TotalFlops, rows);
    }
}
