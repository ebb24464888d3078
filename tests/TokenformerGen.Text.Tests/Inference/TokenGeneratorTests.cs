using TokenformerGen.Text.Inference;

namespace TokenformerGen.Text.Tests.Inference;

public sealed class TokenGeneratorTests
{
    /// <summary>
    /// Records every call; its logits make the next token the last one plus 1, so the tokens a test expects are plain.
    /// </summary>
    private sealed class CountingModel(int context) : INextTokenModel
    {
        public List<string> Calls { get; } = [];

        public int Context => context;

        public int CachedLength { get; set; }

        public void ResetCache()
        {
            Calls.Add("reset");
            CachedLength = 0;
        }

        public float[] NextLogits(IReadOnlyList<long> tokens, bool useCache)
        {
            Assert.InRange(tokens.Count, 1, context);
            Calls.Add((useCache ? "cached " : "whole ") + string.Join(",", tokens));
            if (useCache) CachedLength += tokens.Count;
            Assert.InRange(CachedLength, 0, context);
            var logits = new float[100];
            logits[tokens[^1] + 1] = 1;
            return logits;
        }
    }

    private static readonly SamplingOptions Greedy = new(Temperature: 0);

    [Fact]
    public void WithTheCacheItPrefillsThenFeedsOneTokenAndRestartsFromTheNewestHalfAtAFullContext()
    {
        var model = new CountingModel(context: 8) { CachedLength = 5 };   // a cache left by an earlier sequence
        var produced = TokenGenerator.Generate(model, [1, 2, 3], 12, Greedy);
        Assert.Equal(Enumerable.Range(4, 12).Select(i => (long)i), produced);
        string[] expected =
        [
            "reset", "cached 1,2,3",
            "cached 4", "cached 5", "cached 6", "cached 7", "cached 8",   // the cache now holds 8 = the context
            "reset", "cached 6,7,8,9",
            "cached 10", "cached 11", "cached 12", "cached 13",
            "reset", "cached 11,12,13,14",
        ];
        Assert.Equal(expected, model.Calls);
    }

    [Fact]
    public void APromptLongerThanTheContextPrefillsItsNewestWholeContext()
    {
        var model = new CountingModel(context: 8);
        TokenGenerator.Generate(model, [.. Enumerable.Range(1, 11).Select(i => (long)i)], 2, Greedy);
        Assert.Equal(["reset", "cached 4,5,6,7,8,9,10,11", "reset", "cached 9,10,11,12"], model.Calls);
    }

    [Fact]
    public void WithoutTheCacheEachStepRunsTheNewestContext()
    {
        var model = new CountingModel(context: 4) { CachedLength = 3 };
        var produced = TokenGenerator.Generate(model, [1, 2, 3], 4, Greedy with { UseCache = false });
        Assert.Equal([4L, 5, 6, 7], produced);
        Assert.Equal(["whole 1,2,3", "whole 1,2,3,4", "whole 2,3,4,5", "whole 3,4,5,6"], model.Calls);
        Assert.Equal(3, model.CachedLength);   // neither reset nor filled
    }

    [Fact]
    public void OnePickerDrawsForTheWholeSequence()
    {
        // Every row the same: the tokens are one picker's successive picks from it, not a fresh seed per step.
        float[] row = [0.3f, 1, -0.5f, 0.8f, 0, 0.1f];
        var options = new SamplingOptions(Temperature: 1, TopK: 0, Seed: 9);
        var picker = new TokenPicker(options);
        Assert.Equal(Enumerable.Range(0, 30).Select(_ => picker.Pick(row)), TokenGenerator.Generate(new ConstantModel(row), [5], 30, options));
    }

    [Fact]
    public void ArgumentsAreCheckedAndZeroTokensCallNothing()
    {
        var model = new CountingModel(context: 8);
        Assert.Throws<ArgumentException>(() => TokenGenerator.Generate(model, [], 3, Greedy));
        Assert.Throws<ArgumentOutOfRangeException>(() => TokenGenerator.Generate(model, [1], -1, Greedy));
        Assert.Empty(TokenGenerator.Generate(model, [1], 0, Greedy));
        Assert.Empty(model.Calls);
    }

    private sealed class ConstantModel(float[] row) : INextTokenModel
    {
        public int Context => 16;

        public int CachedLength { get; private set; }

        public void ResetCache() => CachedLength = 0;

        public float[] NextLogits(IReadOnlyList<long> tokens, bool useCache)
        {
            if (useCache) CachedLength += tokens.Count;
            return row;
        }
    }
}
