using TokenformerGen.Growth;
using TokenformerGen.Primitives;
using TokenformerGen.Tests.Primitives;
using Xunit.Abstractions;
using static TokenformerGen.Tests.Reference.TensorArrays;

namespace TokenformerGen.Tests.Growth;

public class GrowthTests(ITestOutputHelper output)
{
    private const int Hidden = 16, Heads = 2;
    private static readonly GrowthOptions ZeroKeys = new() { Policy = GrowthPolicy.ZeroKeys, ValueStd = 0.3, Seed = 5 };

    private static TestBlock Grow(TestBlock small, GrowthOptions options, (long Qkv, long Proj, long Ffn) tokens, TauPolicy policy, (double, double, double)? taus)
    {
        var large = new TestBlock(Hidden, Heads, tokens.Qkv, tokens.Proj, tokens.Ffn, policy, taus);
        foreach (var ((name, target), (_, source)) in large.Pattentions().Zip(small.Pattentions()))
            ParameterGrowth.GrowInto(target, source, name, options);
        return large;
    }

    [Fact]
    public void ZeroKeysWithFrozenTauPreservesTheBlockAndTrainsTheNewKeys()
    {
        // Value std 0.1 keeps the residual stream O(1), as in a trained model, so 1e-6 is a few fp32 ulps.
        var small = TestBlock.Random(Hidden, Heads, 8, 8, 32, seed: 1, TauPolicy.Fixed, valueStd: 0.1);
        var taus = (Math.Sqrt(8), Math.Sqrt(8), Math.Sqrt(32));   // τ frozen at its pre-growth value
        var large = Grow(small, ZeroKeys, (12, 16, 48), TauPolicy.Fixed, taus);
        var x = FromMatrix(Random(5, Hidden, seed: 9)).unsqueeze(0);

        var before = small.forward(x);
        var difference = MaxAbsDifference(large.forward(x), before);
        output.WriteLine($"zero_keys: max |Δ output| = {difference:E2} (output scale {before.abs().max().item<float>():F3})");
        Assert.InRange(difference, 0, 1e-6);

        // In float64 the only difference left is summation order: the function is the same.
        var x64 = x.to(float64);
        var difference64 = MaxAbsDifference(large.to(float64).forward(x64), small.to(float64).forward(x64));
        output.WriteLine($"zero_keys, float64: max |Δ output| = {difference64:E2}");
        Assert.InRange(difference64, 0, 1e-13);
        large.to(float32);

        // New key rows are zero but get gradient through GeLU'(0) = ½; old rows are copied.
        large.forward(x).square().sum().backward();
        foreach (var (name, p) in large.Pattentions())
        {
            var oldRows = small.Pattentions().Single(s => s.Name == name).Module.TokenCount;
            Assert.Equal(0, p.Keys.narrow(0, oldRows, p.TokenCount - oldRows).abs().max().item<float>());
            var newKeyGradient = p.Keys.grad!.narrow(0, oldRows, p.TokenCount - oldRows).abs().max().item<float>();
            output.WriteLine($"{name}: max |grad| of new key rows = {newKeyGradient:E2}");
            Assert.True(newKeyGradient > 1e-6, $"{name}: new key rows got no gradient");
        }
    }

    [Fact]
    public void RandomGrowthChangesTheFunction()
    {
        var small = TestBlock.Random(Hidden, Heads, 8, 8, 32, seed: 1);
        var large = Grow(small, ZeroKeys with { Policy = GrowthPolicy.Random }, (12, 16, 48), TauPolicy.SqrtN, null);
        var x = FromMatrix(Random(5, Hidden, seed: 9)).unsqueeze(0);
        var before = small.forward(x);
        var difference = MaxAbsDifference(large.forward(x), before);
        output.WriteLine($"random: max |Δ output| = {difference:E3} (output scale {before.abs().max().item<float>():F3})");
        Assert.True(difference > 1e-2, $"random growth should change the output, changed by {difference}");
    }

    [Fact]
    public void ZeroKeysWithSqrtNTauDoesNotPreserve()
    {
        // τ follows √n: with the same zero keys, the L2-normalised scores are rescaled.
        var small = TestBlock.Random(Hidden, Heads, 8, 8, 32, seed: 1);
        var large = Grow(small, ZeroKeys, (12, 16, 48), TauPolicy.SqrtN, null);
        var x = FromMatrix(Random(5, Hidden, seed: 9)).unsqueeze(0);
        Assert.True(MaxAbsDifference(large.forward(x), small.forward(x)) > 1e-3);
    }

    [Fact]
    public void AppendRowsKeepsOldRowsAndDrawsNewOnes()
    {
        var source = arange(6, float32).view(3, 2);
        var grown = ParameterGrowth.AppendRows("t", source, [5, 2], 0.5, seed: 1);
        Assert.Equal(source.data<float>().ToArray(), grown.narrow(0, 0, 3).data<float>().ToArray());
        Assert.True(grown.narrow(0, 3, 2).abs().sum().item<float>() > 0);
        // The draw depends on the tensor's name and the seed, not on what was drawn before.
        Assert.Equal(grown.data<float>().ToArray(), ParameterGrowth.AppendRows("t", source, [5, 2], 0.5, seed: 1).data<float>().ToArray());
        Assert.NotEqual(grown.data<float>().ToArray(), ParameterGrowth.AppendRows("u", source, [5, 2], 0.5, seed: 1).data<float>().ToArray());
        var zeroGrown = ParameterGrowth.AppendRows("t", source, [5, 2], 0, 0);
        Assert.Equal(0, zeroGrown.narrow(0, 3, 2).abs().sum().item<float>());
    }

    [Theory]
    [InlineData(new long[] { 2, 2 }, "cannot shrink [3, 2] to [2, 2]")]
    [InlineData(new long[] { 3, 4 }, "only axis 0 (parameter tokens) may grow, axis 1 differs")]
    [InlineData(new long[] { 3, 2, 1 }, "the ranks differ")]
    public void RefusalsNameTheTensorAndBothShapes(long[] target, string problem)
    {
        var e = Assert.Throws<GrowthException>(() => ParameterGrowth.AppendRows("layers.0.mlp.key_param_tokens", zeros(3, 2), target, 0, 0));
        Assert.Contains("layers.0.mlp.key_param_tokens", e.Message);
        Assert.Contains(problem, e.Message);
        Assert.Contains("[3, 2]", e.Message);
        Assert.Contains(Shapes.Format(target), e.Message);
    }

    [Fact]
    public void ZeroKeysAndZeroValuesIsRefusedUnlessForced()
    {
        var saddle = ZeroKeys with { ZeroValues = true };
        var e = Assert.Throws<GrowthException>(() => ParameterGrowth.NewRowStd("x.value_param_tokens", saddle));
        Assert.Contains("dead saddle", e.Message);
        Assert.Equal(0, ParameterGrowth.NewRowStd("x.value_param_tokens", saddle with { AllowDeadSaddle = true }));
    }

    [Fact]
    public void StateDictGrowthCopiesFixedTensorsAndGrowsTokens()
    {
        var source = new Dictionary<string, Tensor>
        {
            ["word_embeddings.weight"] = randn(10, 4),
            ["layers.0.mlp.key_param_tokens"] = randn(3, 4),
            ["layers.0.mlp.value_param_tokens"] = randn(3, 4),
        };
        var grown = StateDictGrowth.Grow(source, [new("word_embeddings.weight", [10, 4]), new("layers.0.mlp.key_param_tokens", [5, 4]), new("layers.0.mlp.value_param_tokens", [5, 4])], ZeroKeys);
        Assert.Equal(source["word_embeddings.weight"].data<float>().ToArray(), grown["word_embeddings.weight"].data<float>().ToArray());
        Assert.Equal(0, grown["layers.0.mlp.key_param_tokens"].narrow(0, 3, 2).abs().sum().item<float>());
        Assert.True(grown["layers.0.mlp.value_param_tokens"].narrow(0, 3, 2).abs().sum().item<float>() > 0);
    }

    [Fact]
    public void StateDictGrowthReportsEveryProblemAtOnce()
    {
        var source = new Dictionary<string, Tensor>
        {
            ["word_embeddings.weight"] = zeros(10, 4),
            ["layers.0.mlp.key_param_tokens"] = zeros(6, 4),
            ["stale.weight"] = zeros(1),
        };
        var e = Assert.Throws<GrowthException>(() => StateDictGrowth.Grow(source,
            [new("word_embeddings.weight", [12, 4]), new("layers.0.mlp.key_param_tokens", [5, 4]), new("final_norm.weight", [4])], ZeroKeys));
        Assert.Contains("4 problems", e.Message);
        Assert.Contains("stale.weight: in the source but not in the target", e.Message);
        Assert.Contains("final_norm.weight: missing from the source (target shape [4])", e.Message);
        Assert.Contains("layers.0.mlp.key_param_tokens: cannot shrink [6, 4] to [5, 4]", e.Message);
        Assert.Contains("word_embeddings.weight: only Pattention key and value tokens can grow", e.Message);
    }
}
