using TokenformerGen.Inference;
using TokenformerGen.Tests.Generated;

namespace TokenformerGen.Tests.Inference;

public class TextSamplerTests
{
    private static SampleSmall Model()
    {
        var model = new SampleSmall();
        model.InitializeFromScratch(11);
        using (no_grad()) model.WordEmbeddings.Weight.mul_(50);   // sharpen the logits so greedy choices are unambiguous
        return model;
    }

    [Fact]
    public void GreedyWithAndWithoutCacheAgreeWithinTheContext()
    {
        var model = Model();
        long[] prompt = [1, 2, 3, 4, 5];
        var cached = TextSampler.Generate(model, prompt, 20, new SamplingOptions(Temperature: 0, UseCache: true));
        var uncached = TextSampler.Generate(model, prompt, 20, new SamplingOptions(Temperature: 0, UseCache: false));
        Assert.Equal(uncached, cached);
        // Past the context of 32 the cache is rebuilt from the newest half (the paths then see different windows).
        Assert.Equal(40, TextSampler.Generate(model, prompt, 40, new SamplingOptions(Temperature: 0)).Count);
    }

    [Fact]
    public void SamplingIsSeededAndRespectsTopKAndVocabulary()
    {
        var model = Model();
        var a = TextSampler.Generate(model, [7], 15, new SamplingOptions(Temperature: 1.5, TopK: 5, Seed: 3));
        var b = TextSampler.Generate(model, [7], 15, new SamplingOptions(Temperature: 1.5, TopK: 5, Seed: 3));
        Assert.Equal(a, b);

        var logits = tensor(new float[] { 0, 5, 4, 3, 9, -1 });
        using var generator = new Generator(1);
        var picks = Enumerable.Range(0, 200).Select(_ => TextSampler.Pick(logits, new SamplingOptions(Temperature: 1, TopK: 2, Vocabulary: 4), generator)).ToHashSet();
        Assert.Subset(new HashSet<long> { 1, 2 }, picks);   // id 4 is padding (≥ vocabulary), top-2 of the rest are 1 and 2
    }
}
