namespace TokenformerGen.Tests.Reference;

/// <summary>The reference is only as good as its own pieces: check them against published values.</summary>
public class ReferenceSelfTests
{
    [Theory]
    [InlineData(0.0, 0.0)]
    [InlineData(0.5, 0.5204998778130465)]
    [InlineData(1.0, 0.8427007929497149)]
    [InlineData(2.0, 0.9953222650189527)]
    [InlineData(3.5, 0.9999992569016276)]
    [InlineData(-1.0, -0.8427007929497149)]
    public void ErfMatchesTables(double x, double expected) => Assert.Equal(expected, Float64Reference.Erf(x), 1e-14);

    [Fact]
    public void GeluOfOneIsPhiOfOne() => Assert.Equal(0.8413447460685429, Float64Reference.Gelu(1.0), 1e-14);

    [Fact]
    public void LayerNormHasZeroMeanUnitVariance()
    {
        var y = Float64Reference.LayerNorm([1, 2, 3, 4], eps: 0);
        Assert.Equal(0, y.Average(), 1e-15);
        Assert.Equal(1, y.Select(v => v * v).Average(), 1e-12);
    }
}
