namespace TokenformerGen.Text.ZeroShot;

/// <summary>One aggregated metric with its standard error (null where lm-evaluation-harness prints N/A: one document).</summary>
/// <param name="Name"><c>acc</c>, <c>acc_norm</c> or <c>perplexity</c>.</param>
/// <param name="Value">The aggregate.</param>
/// <param name="StandardError">lm-evaluation-harness's standard error of it.</param>
public sealed record MetricValue(string Name, double Value, double? StandardError);

/// <summary>
/// lm-evaluation-harness 0.4.1's per-document metrics and their aggregation (<c>lm_eval/api/metrics.py</c>): means
/// with the sample standard error of the mean, and LAMBADA's perplexity <c>exp(−mean log-likelihood)</c> with the
/// bootstrap standard error it computes (100,000 resamples in chunks of 1,000, chunk <c>i</c> drawn by Python's
/// <c>random.Random(i)</c>), so the same items give lm-evaluation-harness's numbers.
/// </summary>
public static class TaskMetrics
{
    /// <summary>lm-evaluation-harness's default number of bootstrap resamples.</summary>
    public const int BootstrapIterations = 100_000;

    /// <summary>
    /// The choice picked by the summed log-likelihoods (<c>acc</c>) and by them divided by each choice's length in code
    /// points (<c>acc_norm</c>); the first on a tie, as <c>np.argmax</c>.
    /// </summary>
    public static (int Pick, int PickNormalised) Picks(IReadOnlyList<double> logLikelihoods, IReadOnlyList<string> choices)
    {
        int pick = 0, norm = 0;
        for (var i = 1; i < logLikelihoods.Count; i++)
        {
            if (logLikelihoods[i] > logLikelihoods[pick]) pick = i;
            if (logLikelihoods[i] / PythonText.Length(choices[i]) > logLikelihoods[norm] / PythonText.Length(choices[norm])) norm = i;
        }
        return (pick, norm);
    }

    /// <summary>Python's <c>sum(xs) / len(xs)</c>: added left to right.</summary>
    public static double Mean(ReadOnlySpan<double> items)
    {
        double sum = 0;
        foreach (var x in items) sum += x;
        return sum / items.Length;
    }

    /// <summary><c>sample_stddev</c>: the standard deviation with Bessel's correction.</summary>
    public static double SampleStandardDeviation(ReadOnlySpan<double> items)
    {
        var mu = Mean(items);
        double sum = 0;
        foreach (var x in items) sum += (x - mu) * (x - mu);
        return Math.Sqrt(sum / (items.Length - 1));
    }

    /// <summary><c>mean_stderr</c>: the sample standard deviation over √n; null for fewer than two items.</summary>
    public static double? MeanStandardError(ReadOnlySpan<double> items)
        => items.Length > 1 ? SampleStandardDeviation(items) / Math.Sqrt(items.Length) : null;

    /// <summary><c>perplexity</c>: <c>exp(−mean)</c> of per-document log-likelihoods.</summary>
    public static double Perplexity(ReadOnlySpan<double> logLikelihoods) => Math.Exp(-Mean(logLikelihoods));

    /// <summary>
    /// <c>bootstrap_stderr(perplexity, xs, iters)</c>: the sample standard deviation of the perplexity of
    /// <paramref name="iterations"/> resamples with replacement, drawn in chunks of 1,000 (fewer when iterations are), chunk
    /// <c>i</c> by <c>random.Random(i).choices(xs, k=len(xs))</c>; null for fewer than two items.
    /// </summary>
    public static double? PerplexityStandardError(IReadOnlyList<double> logLikelihoods, int iterations = BootstrapIterations)
    {
        if (logLikelihoods.Count < 2) return null;
        var chunk = Math.Min(1000, iterations);
        var chunks = iterations / chunk;
        var population = logLikelihoods.ToArray();
        var results = new double[chunks * chunk];
        // Chunks are independent (each its own seed), so they run in parallel and land in their own slots, in order.
        Parallel.For(0, chunks, i =>
        {
            var random = new PythonRandom((uint)i);
            var sample = new double[population.Length];
            for (var j = 0; j < chunk; j++)
            {
                random.Choices(population, sample);
                results[i * chunk + j] = Perplexity(sample);
            }
        });
        return SampleStandardDeviation(results);
    }

    /// <summary>The metrics of a task's documents, in the task's order.</summary>
    /// <param name="task">The task.</param>
    /// <param name="documents">Its documents.</param>
    /// <param name="scores">Per document, its requests' scores in choice order.</param>
    public static IReadOnlyList<MetricValue> Aggregate(ZeroShotTask task, IReadOnlyList<TaskDocument> documents, IReadOnlyList<RequestScore[]> scores)
    {
        var results = new List<MetricValue>();
        if (!task.IsMultipleChoice)
        {
            var logLikelihoods = scores.Select(s => s[0].LogLikelihood).ToArray();
            var greedy = scores.Select(s => s[0].IsGreedy ? 1.0 : 0.0).ToArray();
            results.Add(new("perplexity", Perplexity(logLikelihoods), PerplexityStandardError(logLikelihoods)));
            results.Add(new("acc", Mean(greedy), MeanStandardError(greedy)));
            return results;
        }
        var acc = new double[documents.Count];
        var accNorm = new double[documents.Count];
        for (var d = 0; d < documents.Count; d++)
        {
            var (pick, norm) = Picks(scores[d].Select(s => s.LogLikelihood).ToArray(), documents[d].Choices);
            acc[d] = pick == documents[d].Gold ? 1 : 0;
            accNorm[d] = norm == documents[d].Gold ? 1 : 0;
        }
        results.Add(new("acc", Mean(acc), MeanStandardError(acc)));
        if (task.Metrics.Contains("acc_norm")) results.Add(new("acc_norm", Mean(accNorm), MeanStandardError(accNorm)));
        return results;
    }
}
