using TokenformerGen.Primitives;

namespace TokenformerGen.Tests.Primitives;

public class InitializerTests
{
    [Fact]
    public void WangStdIsTwoOverLayersTimesRootHidden() => Assert.Equal(2 / (12 * Math.Sqrt(768)), Initializers.WangStd(12, 768), 15);

    [Fact]
    public void SameSeedSameWeightsOtherSeedOtherWeights()
    {
        float[] Draw(ulong seed)
        {
            var p = new Pattention(8, 4, 8);
            using var generator = new Generator(seed);
            Initializers.Initialize(p, 0.02, 0.01, generator);
            return p.Keys.data<float>().ToArray().Concat(p.Values.data<float>().ToArray()).ToArray();
        }
        Assert.Equal(Draw(7), Draw(7));
        Assert.NotEqual(Draw(7), Draw(8));
    }

    [Fact]
    public void DrawsHaveTheRequestedStd()
    {
        var t = zeros(200_000);
        using var generator = new Generator(3);
        Initializers.Normal(t, 0.02, generator);
        var values = t.data<float>().ToArray().Select(v => (double)v).ToArray();
        var mean = values.Average();
        var std = Math.Sqrt(values.Select(v => (v - mean) * (v - mean)).Average());
        Assert.InRange(mean, -2e-4, 2e-4);
        Assert.InRange(std, 0.02 * 0.99, 0.02 * 1.01);
    }
}
