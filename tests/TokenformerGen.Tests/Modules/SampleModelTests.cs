using TokenformerGen.Tests.Generated;
using TokenformerGen.Tests.Reference;
using static TokenformerGen.Tests.Reference.TensorArrays;

namespace TokenformerGen.Tests.Modules;

public class SampleModelTests
{
    [Fact]
    public void StateDictKeysFollowOurLayout()
    {
        var keys = new SampleSmall().state_dict().Keys.ToList();
        Assert.Contains("word_embeddings.weight", keys);
        Assert.Contains("layers.1.attention.query.key_param_tokens", keys);
        Assert.Contains("layers.0.mlp.value_param_tokens", keys);
        Assert.Contains("final_norm.bias", keys);
        Assert.Equal(2 * 10 + 3, keys.Count);
        Assert.Equal(SampleSmall.Info.Parameters, new SampleSmall().parameters().Sum(p => p.numel()));
    }

    [Fact]
    public void SeededInitIsReproducibleAndCachedDecodingMatches()
    {
        var a = new SampleSmall();
        a.InitializeFromScratch(3);
        var b = new SampleSmall();
        b.InitializeFromScratch(3);
        var tokens = tensor(new long[] { 1, 5, 9, 2, 7, 3 }).view(1, 6);
        var full = a.call(tokens);
        Assert.Equal(0, MaxAbsDifference(full, b.call(tokens)));

        using var cache = a.CreateCache();
        var prefill = a.call(tokens.narrow(1, 0, 4), cache);
        var next = a.call(tokens.narrow(1, 4, 2), cache);
        Assert.InRange(MaxAbsDifference(cat([prefill, next], 1), full), 0, 1e-5);
    }
}
