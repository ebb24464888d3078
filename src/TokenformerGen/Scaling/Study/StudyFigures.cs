using TokenformerGen.Data;

namespace TokenformerGen.Scaling.Study;

/// <summary>Mean, min and max of a figure over a study's seeds, and how many seeds had it.</summary>
/// <param name="Count">Seeds that had the figure.</param>
/// <param name="Seeds">Seeds in all.</param>
/// <param name="Mean">Mean over the seeds that had it.</param>
/// <param name="Min">Smallest.</param>
/// <param name="Max">Largest.</param>
public sealed record Spread(int Count, int Seeds, double Mean, double Min, double Max)
{
    /// <summary>The spread of the values that exist, or null when none does.</summary>
    public static Spread? Of(IReadOnlyList<double?> values)
    {
        var present = values.OfType<double>().Where(double.IsFinite).ToList();
        return present.Count == 0 ? null : new Spread(present.Count, values.Count, present.Average(), present.Min(), present.Max());
    }

    /// <summary>"0.31 (0.27–0.36)", with "k of n" when some seeds lack the figure.</summary>
    public override string ToString() => Format("F2");

    /// <summary>The mean (min–max) in <paramref name="format"/>, with "k of n" when some seeds lack the figure.</summary>
    public string Format(string format)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        var text = Count == 1 ? Mean.ToString(format, inv) : $"{Mean.ToString(format, inv)} ({Min.ToString(format, inv)}–{Max.ToString(format, inv)})";
        return Count < Seeds ? $"{text}, {Count} of {Seeds} seeds" : text;
    }
}

/// <summary>What one setting of a study trained: the progressive run and its from-scratch references.</summary>
/// <param name="Setting">Scale and seeds.</param>
/// <param name="Progressive">The progressive run.</param>
/// <param name="Scratch">The from-scratch runs (null with <see cref="ScratchBaseline.None"/>).</param>
/// <param name="LargestStage">The stage the compute-matched baseline trains.</param>
/// <param name="Baselines">Baseline families trained at the progressive run's compute.</param>
public sealed record SettingResult(StudySetting Setting, ScheduleResult Progressive, ScheduleResult? Scratch, string LargestStage,
                                   IReadOnlyList<BaselineResult>? Baselines = null);

/// <summary>A reference at (at least) the progressive run's compute, and how far above the progressive run it ended.</summary>
/// <param name="Stage">What it is: a stage of the family from scratch (<c>Large</c>), a baseline family's stage from scratch
/// (<c>TinyKjvStacked Large</c>) or a baseline family's grown schedule (<c>TinyKjvStacked grown</c>).</param>
/// <param name="Flops">Its training FLOPs.</param>
/// <param name="Loss">Its final loss (<see cref="StudyFigures.FinalLoss"/>).</param>
/// <param name="Gap">Δ(C) = its loss − the progressive run's final loss: above 0, growing ended lower at equal compute.</param>
/// <param name="Grown">True for a grown baseline, which is not part of the from-scratch frontier.</param>
public sealed record EqualComputeGap(string Stage, double Flops, double Loss, double Gap, bool Grown = false)
{
    /// <summary>How reports name it: "Large from scratch", "TinyKjvStacked grown".</summary>
    public string Label => Grown ? Stage : Stage + " from scratch";
}

/// <summary>How a forward ratio was read off the references.</summary>
public enum RatioKind
{
    /// <summary>Between two references, by linear interpolation in log-compute.</summary>
    Interpolated,
    /// <summary>Even the reference at the largest multiplier did not reach the progressive loss: the ratio is at most this.</summary>
    AtMost,
    /// <summary>The reference at equal compute already reached it: growing saved nothing, the ratio is at least this.</summary>
    AtLeast,
}

/// <summary>Progressive FLOPs ÷ the FLOPs the from-scratch reference needs to reach the progressive run's final loss.</summary>
/// <param name="Ratio">The ratio (below 1: growing reached its loss with less compute).</param>
/// <param name="Kind">Measured between two references, or a bound.</param>
public sealed record ForwardRatio(double Ratio, RatioKind Kind)
{
    /// <summary>"0.53", "&lt; 0.25" or "≥ 1.00".</summary>
    public override string ToString() => (Kind switch { RatioKind.AtMost => "< ", RatioKind.AtLeast => "≥ ", _ => "" })
                                         + Ratio.ToString("F2", System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>
/// The figures of issue 25, read on the test split: each setting's equal-compute gaps against every from-scratch
/// reference, its frontier gap, and the forward ratios (largest stage, and the whole family) from the scale ladder.
/// </summary>
public static class StudyFigures
{
    /// <summary>The final loss results are read on: the whole test split when it was measured, else the curve's test batches.</summary>
    public static double FinalLoss(StageResult stage) => stage.FullTestLoss ?? stage.TestLoss ?? double.NaN;

    /// <summary>The progressive run's final loss.</summary>
    public static double ProgressiveLoss(SettingResult result) => FinalLoss(result.Progressive.Stages[^1]);

    /// <summary>
    /// Δ(C) against every reference that trained for at least the progressive run's FLOPs: the family's stages from scratch
    /// (the compute-matched baseline and, with <see cref="ScratchBaseline.Frontier"/>, every stage), then each baseline
    /// family's grown schedule and its stages from scratch, in the order trained.
    /// </summary>
    public static IReadOnlyList<EqualComputeGap> Gaps(SettingResult result)
    {
        var progressive = ProgressiveLoss(result);
        var total = result.Progressive.TotalFlops;
        IEnumerable<EqualComputeGap> Of(ScheduleResult? run, string prefix)
            => (run?.Stages ?? []).Where(s => s.Flops >= total)
                                  .Select(s => new EqualComputeGap(prefix + s.Stage, s.Flops, FinalLoss(s), FinalLoss(s) - progressive));
        IEnumerable<EqualComputeGap> Grown(BaselineResult baseline)
        {
            if (baseline.Progressive is not { Stages.Count: > 0 } grown || grown.TotalFlops < total) yield break;
            var loss = FinalLoss(grown.Stages[^1]);
            yield return new EqualComputeGap($"{baseline.Family} grown", grown.TotalFlops, loss, loss - progressive, Grown: true);
        }
        return Of(result.Scratch, "")
            .Concat((result.Baselines ?? []).SelectMany(b => Grown(b).Concat(Of(b.Scratch, b.Family + " "))))
            .ToList();
    }

    /// <summary>
    /// The frontier gap: the best from-scratch model of any size and any family at the same compute, minus the progressive
    /// run (grown baselines are not in it); null without one.
    /// </summary>
    public static double? FrontierGap(SettingResult result) => Gaps(result).Where(g => !g.Grown).ToList() is { Count: > 0 } gaps ? gaps.Min(g => g.Gap) : null;

    /// <summary>
    /// The forward ratio of <paramref name="result"/> against the compute-matched baselines of the same seeds at its scale
    /// and larger ones in <paramref name="study"/> (the scratch multipliers): progressive FLOPs ÷ the FLOPs at which that
    /// ladder of references reaches the progressive final loss, interpolated linearly in log-compute between the two
    /// references that bracket it; a bound when none or the first already does. Null without references.
    /// </summary>
    public static ForwardRatio? Forward(SettingResult result, IReadOnlyList<SettingResult> study)
        => Reach(Ladder(result, study, result.LargestStage), ProgressiveLoss(result)) is { } needed
            ? new ForwardRatio(result.Progressive.TotalFlops / needed.Flops, needed.Kind)
            : null;

    /// <summary>
    /// The forward family ratio with every stage from scratch as a real run (<see cref="ScratchBaseline.All"/> at several
    /// scales: each stage at 1×, 2×, … the progressive FLOPs up to it): the progressive run's FLOPs ÷ the sum over its
    /// stages of the FLOPs at which that stage from scratch reaches the progressive stage's final loss, each read off that
    /// stage's ladder as <see cref="Forward"/> reads the largest stage's. A bound when some stage's ladder gives one; null
    /// when a stage has no reference, or two stages bound it in opposite directions.
    /// </summary>
    public static ForwardRatio? ForwardFamily(SettingResult result, IReadOnlyList<SettingResult> study)
    {
        var needed = new List<(double Flops, RatioKind Kind)>();
        foreach (var stage in result.Progressive.Stages)
        {
            if (Reach(Ladder(result, study, stage.Stage), FinalLoss(stage)) is not { } reach) return null;
            needed.Add(reach);
        }
        var bounds = needed.Select(n => n.Kind).Where(k => k != RatioKind.Interpolated).Distinct().ToList();
        if (needed.Count == 0 || bounds.Count > 1) return null;
        return new ForwardRatio(result.Progressive.TotalFlops / needed.Sum(n => n.Flops), bounds.Count == 0 ? RatioKind.Interpolated : bounds[0]);
    }

    // One stage from scratch in the settings of the same seeds at this scale and larger ones (each its own run with its
    // own warmup and cosine), as (FLOPs, final loss) in order of compute.
    private static List<(double Flops, double Loss)> Ladder(SettingResult result, IReadOnlyList<SettingResult> study, string stage)
        => study.Where(r => r.Setting.Seeds == result.Setting.Seeds && r.Setting.Scale >= result.Setting.Scale)
                .Select(r => r.Scratch?.Stages.SingleOrDefault(s => s.Stage == stage))
                .OfType<StageResult>()
                .Select(s => (s.Flops, FinalLoss(s)))
                .OrderBy(p => p.Item1)
                .ToList();

    // The FLOPs at which a ladder reaches the target loss: interpolated linearly in log-compute between the two references
    // that bracket it; the first's FLOPs (at least enough: AtLeast on the ratio) when it already does; the last's (not
    // enough: AtMost) when none does. Null for an empty ladder.
    private static (double Flops, RatioKind Kind)? Reach(List<(double Flops, double Loss)> ladder, double target)
    {
        if (ladder.Count == 0) return null;
        if (ladder[0].Loss <= target) return (ladder[0].Flops, RatioKind.AtLeast);
        for (var i = 1; i < ladder.Count; i++)
        {
            if (ladder[i].Loss > target) continue;
            var (low, high) = (ladder[i - 1], ladder[i]);
            var t = (low.Loss - target) / (low.Loss - high.Loss);
            return (Math.Exp(Math.Log(low.Flops) + t * (Math.Log(high.Flops) - Math.Log(low.Flops))), RatioKind.Interpolated);
        }
        return (ladder[^1].Flops, RatioKind.AtMost);
    }

    /// <summary>Tokens per parameter the compute-matched baseline trained on (how far from data-rich the budget is).</summary>
    public static double? BaselineTokensPerParameter(SettingResult result)
        => result.Scratch?.Stages.SingleOrDefault(s => s.Stage == result.LargestStage) is { } baseline ? (double)baseline.Tokens / baseline.Parameters : null;

    /// <summary>Training seconds per optimizer step of a run (summed over the processes that trained it).</summary>
    public static double SecondsPerStep(ScheduleResult run) => run.Stages.Sum(s => s.WallSeconds) / Math.Max(1, run.Stages.Sum(s => s.Steps));
}
