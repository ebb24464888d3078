using TokenformerGen.Text.Inference;

namespace TokenformerGen.Text.Tests.Inference;

public sealed class TokenPickerTests
{
    // Temperature 2 over these scores is a softmax of [0, ln 2, ln 5]: probabilities 1/8, 2/8, 5/8.
    private static readonly float[] OneTwoFive = [0f, (float)(2 * Math.Log(2)), (float)(2 * Math.Log(5))];

    [Fact]
    public void SplitMix64GivesTheReferenceOutputs()
    {
        // Vigna's splitmix64.c from x = 0 and x = 1 (also worked through in Python with 64-bit wrap-around).
        var zero = new SplitMix64(0);
        Assert.Equal([0xE220A8397B1DCDAFUL, 0x6E789E6AA1B965F4UL, 0x06C45D188009454FUL], [zero.Next(), zero.Next(), zero.Next()]);
        var one = new SplitMix64(1);
        Assert.Equal([0x910A2DEC89025CC1UL, 0xBEEB8DA1658EEC67UL, 0xF893A2EEFB32555EUL], [one.Next(), one.Next(), one.Next()]);
        // The top 53 bits of 0xE220A8397B1DCDAF over 2^53.
        Assert.Equal(0.8833108082136426, new SplitMix64(0).NextDouble());
    }

    [Fact]
    public void TemperatureZeroTakesTheFirstLargestScoreWithinTheVocabulary()
    {
        Assert.Equal(1, new TokenPicker(new SamplingOptions(Temperature: 0)).Pick([1, 7, 3, 7]));
        // Id 2 is padding (at or above the vocabulary of 2), however large its score.
        Assert.Equal(1, new TokenPicker(new SamplingOptions(Temperature: 0, Vocabulary: 2)).Pick([1, 2, 9]));
        // A vocabulary larger than the row caps nothing.
        Assert.Equal(2, new TokenPicker(new SamplingOptions(Temperature: 0, Vocabulary: 10)).Pick([1, 2, 9]));
    }

    [Fact]
    public void EachDrawIsLookedUpInTheCumulativeProbabilities()
    {
        // Seed 0 draws 0.883, 0.432, 0.026, 0.971, 0.106, 0.327 (the values above); the cumulative probabilities are
        // 1/8, 3/8, 1: a draw below 0.125 picks 0, below 0.375 picks 1, else 2.
        var picker = new TokenPicker(new SamplingOptions(Temperature: 2, TopK: 0, Seed: 0));
        Assert.Equal([2L, 2, 0, 2, 0, 1], Enumerable.Range(0, 6).Select(_ => picker.Pick(OneTwoFive)));
    }

    [Fact]
    public void FrequenciesFollowTheSoftmax()
    {
        const int draws = 20_000;
        var picker = new TokenPicker(new SamplingOptions(Temperature: 2, TopK: 0, Seed: 12345));
        var counts = new int[3];
        for (var i = 0; i < draws; i++) counts[picker.Pick(OneTwoFive)]++;
        // One standard deviation of a frequency is at most sqrt(0.25 / 20,000) ≈ 0.0035; 0.015 is over four.
        double[] expected = [1 / 8.0, 2 / 8.0, 5 / 8.0];
        for (var id = 0; id < 3; id++) Assert.InRange((double)counts[id] / draws, expected[id] - 0.015, expected[id] + 0.015);
    }

    [Fact]
    public void TopKNeverPicksOutsideTheKBestWithinTheVocabulary()
    {
        // Id 4 is padding; of the rest, the two best are 1 and 2. A high temperature makes every other id likely if allowed.
        var picker = new TokenPicker(new SamplingOptions(Temperature: 50, TopK: 2, Seed: 7, Vocabulary: 4));
        var picks = Enumerable.Range(0, 2000).Select(_ => picker.Pick([0, 5, 4, 3, 9, -1])).ToHashSet();
        Assert.Equal(new HashSet<long> { 1, 2 }, picks);
        // Scores tied at the k-th largest are all kept.
        var tied = new TokenPicker(new SamplingOptions(Temperature: 50, TopK: 1, Seed: 7));
        Assert.Equal(new HashSet<long> { 1, 2 }, Enumerable.Range(0, 200).Select(_ => tied.Pick([1, 3, 3, 2])).ToHashSet());
    }

    [Fact]
    public void TheSameSeedGivesTheSameSequence()
    {
        float[] logits = [0.5f, -1, 2, 0, 1.5f, 1, -0.5f, 0.25f];
        long[] Picks(long seed)
        {
            var picker = new TokenPicker(new SamplingOptions(Temperature: 1, TopK: 0, Seed: seed));
            return Enumerable.Range(0, 50).Select(_ => picker.Pick(logits)).ToArray();
        }
        Assert.Equal(Picks(3), Picks(3));
        Assert.NotEqual(Picks(3), Picks(4));
    }

    [Fact]
    public void EmptyLogitsAndANonPositiveVocabularyAreRefused()
    {
        Assert.Throws<ArgumentException>(() => new TokenPicker(new SamplingOptions()).Pick([]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TokenPicker(new SamplingOptions(Vocabulary: 0)));
    }
}
