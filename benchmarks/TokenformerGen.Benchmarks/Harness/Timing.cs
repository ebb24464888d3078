using System.Diagnostics;

namespace TokenformerGen.Benchmarks.Harness;

/// <summary>
/// Times of a baseline and a candidate taken alternately in one run (order A B B A A B …), so that
/// load from other processes on a shared machine hits both alike. The ratio is the median of the
/// per-pair ratios, which cancels slow drifts in machine speed.
/// </summary>
internal sealed record Paired(double[] Baseline, double[] Candidate)
{
    public double BaselineMedian => Stats.Median(Baseline);

    public double CandidateMedian => Stats.Median(Candidate);

    /// <summary>Median of candidate / baseline over the pairs.</summary>
    public double Ratio => Stats.Median(Baseline.Zip(Candidate, (b, c) => c / b));

    /// <summary>Smallest and largest per-pair ratio.</summary>
    public (double Min, double Max) RatioRange
    {
        get
        {
            var ratios = Baseline.Zip(Candidate, (b, c) => c / b).ToArray();
            return (ratios.Min(), ratios.Max());
        }
    }
}

internal static class Timing
{
    /// <summary>Wall seconds of one call.</summary>
    public static double Seconds(Action action)
    {
        var clock = Stopwatch.StartNew();
        action();
        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>Warms both up, then times <paramref name="pairs"/> pairs in ABBA order.</summary>
    public static Paired Alternate(Action baseline, Action candidate, int pairs, int warmup = 1)
    {
        for (var i = 0; i < warmup; i++)
        {
            baseline();
            candidate();
        }
        var a = new double[pairs];
        var b = new double[pairs];
        for (var i = 0; i < pairs; i++)
        {
            if (i % 2 == 0)
            {
                a[i] = Seconds(baseline);
                b[i] = Seconds(candidate);
            }
            else
            {
                b[i] = Seconds(candidate);
                a[i] = Seconds(baseline);
            }
        }
        return new Paired(a, b);
    }

    /// <summary>How many calls of <paramref name="action"/> (after one warm-up call) fill about <paramref name="seconds"/>.</summary>
    public static int CallsFor(Action action, double seconds)
    {
        var once = Seconds(action);
        return (int)Math.Clamp(Math.Ceiling(seconds / Math.Max(once, 1e-6)), 1, 10_000);
    }
}
