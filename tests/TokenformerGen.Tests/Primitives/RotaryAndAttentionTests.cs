using TokenformerGen.Primitives;
using TokenformerGen.Tests.Reference;
using static TokenformerGen.Tests.Reference.TensorArrays;

namespace TokenformerGen.Tests.Primitives;

public class RotaryAndAttentionTests
{
    private const double Tolerance = 1e-5;

    [Fact]
    public void RotaryMatchesFloat64ReferenceWithOffset()
    {
        // 1 batch, 1 head, 6 positions, head dim 16, rotary on int(0.25 · 16) = 4 dims.
        var x = Random(6, 16, seed: 7);
        var rotary = new RotaryEmbedding(16, 0.25, 10000);
        Assert.Equal(4, rotary.Dimensions);
        var actual = ToMatrix(rotary.Apply(FromMatrix(x).view(1, 1, 6, 16), offset: 3).view(6, 16));
        var expected = x.Select((row, t) => Float64Reference.Rotary(row, 4, 3 + t)).ToArray();
        Assert.InRange(RelativeError(actual, expected), 0, Tolerance);
        Assert.Equal(x[0][4..].Select(v => (double)(float)v), actual[0][4..]);   // the unrotated dims pass through untouched
    }

    [Fact]
    public void RotaryRejectsOddOrOversizedDims()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new RotaryEmbedding(12, 0.25));   // 3 dims: odd
        Assert.Throws<ArgumentOutOfRangeException>(() => new RotaryEmbedding(8, 1.5));    // 12 > 8
        Assert.Throws<ArgumentOutOfRangeException>(() => new RotaryEmbedding(8, 0.1));    // 0 dims
    }

    [Fact]
    public void CausalAttentionMatchesFloat64Reference()
    {
        const int T = 7, d = 16, heads = 2;
        var (q, k, v) = (Random(T, d, 11), Random(T, d, 12), Random(T, d, 13));
        var rotary = new RotaryEmbedding(d / heads, 0.5);   // 4 of 8 dims
        var actual = Attention.CausalSelfAttention(FromMatrix(q).unsqueeze(0), FromMatrix(k).unsqueeze(0), FromMatrix(v).unsqueeze(0), heads, rotary);
        var expected = Float64Reference.CausalAttention(q, k, v, heads, rotaryDims: 4);
        Assert.InRange(RelativeError(ToMatrix(actual[0]), expected), 0, Tolerance);
    }

    [Fact]
    public void KvCacheDecodingEqualsFullSequence()
    {
        const int T = 9, d = 16, heads = 4;
        var (q, k, v) = (FromMatrix(Random(T, d, 21)).unsqueeze(0), FromMatrix(Random(T, d, 22)).unsqueeze(0), FromMatrix(Random(T, d, 23)).unsqueeze(0));
        var rotary = new RotaryEmbedding(d / heads, 0.5);
        var full = Attention.CausalSelfAttention(q, k, v, heads, rotary);

        // Prefill 4 positions, then 3 at once (needs a bottom-right causal mask), then 1 + 1.
        using var cache = new LayerKvCache();
        var pieces = new List<Tensor>();
        foreach (var (start, length) in new[] { (0, 4), (4, 3), (7, 1), (8, 1) })
        {
            Tensor Slice(Tensor t) => t.narrow(1, start, length);
            pieces.Add(Attention.CausalSelfAttention(Slice(q), Slice(k), Slice(v), heads, rotary, cache));
        }
        Assert.Equal(T, cache.Length);
        Assert.InRange(MaxAbsDifference(cat(pieces, 1), full), 0, 1e-6);
    }

    [Fact]
    public void NonParametricLayerNormMatchesReference()
    {
        var x = Random(3, 10, seed: 5, scale: 4);
        var actual = ToMatrix(LayerNorms.NonParametric(FromMatrix(x)));
        Assert.InRange(RelativeError(actual, x.Select(r => Float64Reference.LayerNorm(r)).ToArray()), 0, Tolerance);
    }

    [Fact]
    public void BlockMatchesFloat64Reference()
    {
        const int T = 6, d = 16, heads = 2;
        var block = TestBlock.Random(d, heads, qkv: 10, proj: 12, ffn: 20, seed: 3);
        var x = Random(T, d, seed: 31);
        var w = new Float64Reference.BlockWeights(
            ToMatrix(block.query.Keys), ToMatrix(block.query.Values), ToMatrix(block.key.Keys), ToMatrix(block.key.Values),
            ToMatrix(block.value.Keys), ToMatrix(block.value.Values), ToMatrix(block.proj.Keys), ToMatrix(block.proj.Values),
            ToMatrix(block.mlp.Keys), ToMatrix(block.mlp.Values));
        var expected = Float64Reference.Block(x, w, heads, rotaryDims: 2);   // int(0.25 · 8) = 2
        var actual = ToMatrix(block.forward(FromMatrix(x).unsqueeze(0))[0]);
        Assert.InRange(RelativeError(actual, expected), 0, Tolerance);
    }
}
