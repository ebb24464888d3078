namespace TokenformerGen.Benchmarks.Harness;

/// <summary>Order statistics over repeated measurements.</summary>
internal static class Stats
{
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) return double.NaN;
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    public static double Min(IEnumerable<double> values) => values.DefaultIfEmpty(double.NaN).Min();

    public static double Max(IEnumerable<double> values) => values.DefaultIfEmpty(double.NaN).Max();

    /// <summary>Least-squares slope of <paramref name="y"/> over its index.</summary>
    public static double Slope(IReadOnlyList<double> y)
    {
        var n = y.Count;
        if (n < 2) return 0;
        double meanX = (n - 1) / 2.0, meanY = y.Average(), num = 0, den = 0;
        for (var i = 0; i < n; i++)
        {
            num += (i - meanX) * (y[i] - meanY);
            den += (i - meanX) * (i - meanX);
        }
        return num / den;
    }
}
