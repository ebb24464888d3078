namespace TokenformerGen.Text.Inference;

/// <summary>
/// Picks next-token ids from rows of logits with the <see cref="SamplingOptions"/>, in managed code on the CPU, so every
/// engine samples alike. Holds the seeded generator: one picker per generated sequence.
/// </summary>
/// <remarks>
/// Ids at or above <see cref="SamplingOptions.Vocabulary"/> are never picked. A temperature of 0 (or less) picks the
/// first largest score and draws nothing. Otherwise the scores divided by the temperature go through a softmax in
/// double precision, over the <see cref="SamplingOptions.TopK"/> largest only when it is set (every score at least the
/// k-th largest is kept, so ties at the k-th may keep more), and one uniform draw in [0, 1) from a
/// SplitMix64 generator seeded with <see cref="SamplingOptions.Seed"/> is looked up in their cumulative sum.
/// </remarks>
public sealed class TokenPicker
{
    private readonly SamplingOptions _options;
    private readonly SplitMix64 _random;

    /// <summary>A picker whose draws start from <paramref name="options"/>' seed.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The vocabulary is given and not positive.</exception>
    public TokenPicker(SamplingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Vocabulary is <= 0)
            throw new ArgumentOutOfRangeException(nameof(options), options.Vocabulary, "The vocabulary must be positive.");
        _options = options;
        _random = new SplitMix64(unchecked((ulong)options.Seed));
    }

    /// <summary>Picks one id from <paramref name="logits"/>, the scores of one position over the padded vocabulary.</summary>
    /// <exception cref="ArgumentException"><paramref name="logits"/> is empty.</exception>
    public long Pick(ReadOnlySpan<float> logits)
    {
        if (logits.IsEmpty) throw new ArgumentException("There are no logits to pick from.", nameof(logits));
        var scores = _options.Vocabulary is long v && v < logits.Length ? logits[..(int)v] : logits;
        var best = ArgMax(scores);
        if (_options.Temperature <= 0) return best;

        var threshold = _options.TopK > 0 && _options.TopK < scores.Length ? KthLargest(scores, _options.TopK) : float.NegativeInfinity;
        var temperature = _options.Temperature;
        var shift = scores[best] / temperature;   // every exponent at most 0: no overflow
        double Weight(float score) => score >= threshold ? Math.Exp(score / temperature - shift) : 0;

        var total = 0.0;
        foreach (var score in scores) total += Weight(score);
        // The same sum again, in the same order, until it passes the draw.
        var draw = _random.NextDouble() * total;
        var cumulative = 0.0;
        var last = best;
        for (var i = 0; i < scores.Length; i++)
        {
            var weight = Weight(scores[i]);
            if (weight == 0) continue;   // never picked, not even as the fallback below
            cumulative += weight;
            if (draw < cumulative) return i;
            last = i;
        }
        return last;   // the draw rounded up to the whole sum
    }

    private static int ArgMax(ReadOnlySpan<float> scores)
    {
        var best = 0;
        for (var i = 1; i < scores.Length; i++)
            if (scores[i] > scores[best]) best = i;
        return best;
    }

    private static float KthLargest(ReadOnlySpan<float> scores, int k)
    {
        // The k largest so far in a min-heap: its root is the k-th largest.
        var largest = new PriorityQueue<float, float>(k);
        foreach (var score in scores)
        {
            if (largest.Count < k) largest.Enqueue(score, score);
            else if (score > largest.Peek()) largest.DequeueEnqueue(score, score);
        }
        return largest.Peek();
    }
}
