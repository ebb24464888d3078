namespace TokenformerGen.Tests;

public class SmokeTests
{
    [Fact]
    public void TorchLoads() => Assert.Equal(2f, ones(2).sum().item<float>());
}
