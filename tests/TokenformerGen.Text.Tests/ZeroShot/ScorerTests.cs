using TokenformerGen.Text.ZeroShot;

namespace TokenformerGen.Text.Tests.ZeroShot;

/// <summary>
/// <see cref="LogLikelihoodScorer"/> on a model whose logits are known by hand: at every position it prefers the id after
/// the input id (logit 2, all others 0, five ids), so a log-probability is 2 − ln(e² + 4) for the preferred id and
/// −ln(e² + 4) for any other, and a continuation of consecutive ids is greedy.
/// </summary>
public sealed class ScorerTests
{
    private sealed class NextIdModel : ILogLikelihoodModel
    {
        public int Context => 8;

        public int OutputWidth => 5;

        public List<int> BatchRows { get; } = [];

        public float[] Logits(long[] ids, int length, IReadOnlyList<(int Start, int Count)> spans)
        {
            BatchRows.Add(spans.Count);
            var result = new List<float>();
            for (var r = 0; r < spans.Count; r++)
                for (var p = spans[r].Start; p < spans[r].Start + spans[r].Count; p++)
                    for (var j = 0; j < OutputWidth; j++)
                        result.Add(j == (ids[r * length + p] + 1) % OutputWidth ? 2f : 0f);
            return [.. result];
        }
    }

    private static readonly double Hit = 2 - Math.Log(Math.Exp(2) + 4);
    private static readonly double Miss = -Math.Log(Math.Exp(2) + 4);

    [Fact]
    public void SumsTheContinuationsLogProbabilitiesAndFlagsGreedyOnesInAnyBatchSize()
    {
        EncodedRequest[] requests =
        [
            new([0, 1], [2, 3]),                    // 1→2, 2→3: both preferred
            new([0, 1], [3]),                       // 1→3: not
            new([0, 1, 2, 3, 4, 0, 1, 2], [3, 4]),  // 10 tokens: input is the last 9 less the last, so it starts at 1
            new([4], [0, 1, 2, 3, 4, 0, 1, 2]),     // a continuation as long as the context
            new([3], [4, 1]),                       // 3→4 preferred, 4→1 not
        ];
        (double, bool, bool)[] expected =
        [
            (2 * Hit, true, false), (Miss, false, false), (2 * Hit, true, true), (8 * Hit, true, false), (Hit + Miss, false, false),
        ];
        foreach (var batch in new[] { 1, 2, 3, 7 })
        {
            var model = new NextIdModel();
            var scores = LogLikelihoodScorer.Score(model, requests, batch);
            for (var i = 0; i < requests.Length; i++)
            {
                Assert.Equal(expected[i].Item1, scores[i].LogLikelihood, 6);
                Assert.Equal((expected[i].Item2, expected[i].Item3), (scores[i].IsGreedy, scores[i].Truncated));
            }
            Assert.All(model.BatchRows, rows => Assert.InRange(rows, 1, batch));
        }
    }

    [Fact]
    public void AContinuationLongerThanTheContextIsRefused()
        => Assert.Contains("does not fit the context of 8", Assert.Throws<ArgumentException>(
            () => LogLikelihoodScorer.Score(new NextIdModel(), [new EncodedRequest([0], [1, 2, 3, 4, 0, 1, 2, 3, 4])], 1)).Message);

    [Fact]
    public void LogSoftmaxIsOverTheWholeRowAndTheFirstMaximumIsTheArgmax()
    {
        // ln(e¹ + e³ + e²) = 3.4076059644443806 (worked out by hand: e + e³ + e² = 30.192874...).
        var (logProbability, isArgmax) = LogLikelihoodScorer.LogSoftmaxAt([1f, 3f, 2f], 1);
        Assert.Equal(3 - 3.4076059644443806, logProbability, 12);
        Assert.True(isArgmax);
        Assert.False(LogLikelihoodScorer.LogSoftmaxAt([1f, 3f, 3f], 2).IsArgmax);
    }
}
