namespace TokenformerGen.Training;

/// <summary>
/// Linear warmup to the peak, then cosine decay to <see cref="MinimumRatio"/> of the peak at the
/// last step (the spec's recipe: 1% warmup, cosine from 6e-4 to 6e-5). A growth stage starts a new schedule.
/// </summary>
/// <param name="Peak">Peak learning rate.</param>
/// <param name="TotalSteps">Optimizer steps in the stage.</param>
/// <param name="WarmupSteps">Steps of linear warmup.</param>
/// <param name="MinimumRatio">Final learning rate as a share of the peak.</param>
public sealed record LearningRateSchedule(double Peak, long TotalSteps, long WarmupSteps, double MinimumRatio = 0.1)
{
    /// <summary>A schedule whose warmup is a share of <paramref name="totalSteps"/> (at least one step).</summary>
    public static LearningRateSchedule WithWarmupShare(double peak, long totalSteps, double warmupShare, double minimumRatio = 0.1)
        => new(peak, totalSteps, Math.Max(1, (long)Math.Round(warmupShare * totalSteps)), minimumRatio);

    /// <summary>The learning rate of optimizer step <paramref name="step"/> (0-based).</summary>
    public double At(long step)
    {
        if (step < WarmupSteps) return Peak * (step + 1) / WarmupSteps;
        var decaySteps = Math.Max(1, TotalSteps - WarmupSteps);
        var progress = Math.Min(1.0, (double)(step - WarmupSteps) / decaySteps);
        var minimum = Peak * MinimumRatio;
        return minimum + (Peak - minimum) * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }
}
