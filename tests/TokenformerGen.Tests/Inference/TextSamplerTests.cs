using TokenformerGen.Inference;
using TokenformerGen.Tests.Generated;
using TokenformerGen.Text.Inference;

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
    public void TheFirstTokenComesFromTheLastPositionsLogits()
    {
        var model = Model();
        model.eval();
        long[] prompt = [1, 2, 3, 4, 5];
        long expected;
        using (no_grad()) expected = model.call(tensor(prompt).unsqueeze(0))[0, -1].argmax().item<long>();
        Assert.Equal([expected], TextSampler.Generate(model, prompt, 1, new SamplingOptions(Temperature: 0)));
    }

    [Fact]
    public void SamplingIsSeeded()
    {
        // The picking itself is TokenPicker's (tests/TokenformerGen.Text.Tests); here the adapter must feed it the same rows.
        var model = Model();
        var a = TextSampler.Generate(model, [7], 15, new SamplingOptions(Temperature: 1.5, TopK: 5, Seed: 3));
        var b = TextSampler.Generate(model, [7], 15, new SamplingOptions(Temperature: 1.5, TopK: 5, Seed: 3));
        Assert.Equal(a, b);
        Assert.NotEqual(a, TextSampler.Generate(model, [7], 15, new SamplingOptions(Temperature: 1.5, TopK: 5, Seed: 4)));
    }
}
