namespace TokenformerGen.Training;

/// <summary>
/// Linear warmup to the peak, then cosine decay to <see cref="MinimumRatio"/> of the peak at the
/// last step (the spec's recipe: 1% warmup, cosine from 6e-4 to 6e-5). A trainer's step <c>s</c> is step
/// <c><see cref="StartStep"/> + s</c> of this curve, so one curve can span several stages of a growth
/// schedule; a grown stage may also ramp up again over its first <see cref="RewarmSteps"/> steps.
/// </summary>
/// <param name="Peak">Peak learning rate.</param>
/// <param name="TotalSteps">Optimizer steps the curve spans (one stage, or a whole schedule).</param>
/// <param name="WarmupSteps">Steps of linear warmup at the start of the curve.</param>
/// <param name="MinimumRatio">Final learning rate as a share of the peak.</param>
public sealed record LearningRateSchedule(double Peak, long TotalSteps, long WarmupSteps, double MinimumRatio = 0.1)
{
    /// <summary>Where on the curve the trainer's step 0 lies (the steps of the stages trained before, on a curve shared by several).</summary>
    public long StartStep { get; init; }

    /// <summary>
    /// The trainer's first steps ramp linearly from 1/<see cref="RewarmSteps"/> of the curve's value up to it
    /// (0: no re-warmup). A fresh optimizer after a growth takes sign-like first steps; this keeps them small.
    /// </summary>
    public long RewarmSteps { get; init; }

    /// <summary>A schedule whose warmup is a share of <paramref name="totalSteps"/> (at least one step).</summary>
    public static LearningRateSchedule WithWarmupShare(double peak, long totalSteps, double warmupShare, double minimumRatio = 0.1)
        => new(peak, totalSteps, Math.Max(1, (long)Math.Round(warmupShare * totalSteps)), minimumRatio);

    /// <summary>The learning rate of the trainer's optimizer step <paramref name="step"/> (0-based).</summary>
    public double At(long step)
    {
        var rate = OnCurve(StartStep + step);
        return step < RewarmSteps ? rate * (step + 1) / RewarmSteps : rate;
    }

    private double OnCurve(long step)
    {
        if (step < WarmupSteps) return Peak * (step + 1) / WarmupSteps;
        var decaySteps = Math.Max(1, TotalSteps - WarmupSteps);
        var progress = Math.Min(1.0, (double)(step - WarmupSteps) / decaySteps);
        var minimum = Peak * MinimumRatio;
        return minimum + (Peak - minimum) * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }
}
