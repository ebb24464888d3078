using TokenformerGen.Primitives;
using Xunit.Abstractions;
using static TokenformerGen.Tests.Reference.TensorArrays;

namespace TokenformerGen.Tests.Primitives;

/// <summary>
/// The meta device has no kernel for layer_norm, index_select or scaled_dot_product_attention, so there the primitives
/// spell the same function out of elementary ops. Here, on the CPU, each spelt-out form is held to its fused kernel.
/// </summary>
public sealed class ExplicitFormulationTests(ITestOutputHelper output)
{
    // One bfloat16 rounding of a value of magnitude up to 4 is at most 2⁻⁸ · 4; fused and spelt-out forms may round a
    // value on opposite sides, hence two of those.
    private const double Bf16Tolerance = 2 * 4.0 / 256;

    private static Tensor Random(long[] shape, int seed, ScalarType dtype = ScalarType.Float32)
    {
        using var generator = new Generator((ulong)seed);
        return randn(shape, generator: generator).to(dtype);
    }

    [Theory]
    [InlineData(ScalarType.Float32, 1e-5)]
    [InlineData(ScalarType.Float64, 1e-12)]
    [InlineData(ScalarType.BFloat16, Bf16Tolerance)]
    public void LayerNormSpeltOutEqualsTheKernel(ScalarType dtype, double tolerance)
    {
        var x = Random([3, 5, 24], 1, dtype) * 3 + 1;
        var parameterType = dtype == ScalarType.BFloat16 ? ScalarType.Float32 : dtype;   // bfloat16 input with float32 weights, as in bf16 training
        var weight = Random([24], 2, parameterType);
        var bias = Random([24], 3, parameterType);
        var plain = MaxAbsDifference(LayerNorms.Explicit(x, null, null, LayerNorms.Epsilon).to(float64), nn.functional.layer_norm(x, [24]).to(float64));
        var affine = MaxAbsDifference(LayerNorms.Explicit(x, weight, bias, LayerNorms.Epsilon).to(float64), nn.functional.layer_norm(x, [24], weight, bias).to(float64));
        output.WriteLine($"{dtype}: max |spelt out − kernel| {plain:E2} (plain), {affine:E2} (affine)");
        Assert.InRange(plain, 0, tolerance);
        Assert.InRange(affine, 0, tolerance);
        Assert.Equal(x.dtype, LayerNorms.Explicit(x, weight, bias, LayerNorms.Epsilon).dtype);
    }

    [Fact]
    public void EmbeddingLookupByIndexingEqualsIndexSelectWithItsGradient()
    {
        var table = Random([10, 6], 4).requires_grad_();
        var ids = tensor(new long[] { 3, 1, 3, 9, 0, 3 });
        var selected = table.index_select(0, ids);
        var indexed = TokenEmbedding.Explicit(table, ids);
        Assert.Equal(0, MaxAbsDifference(selected, indexed));

        var upstream = Random([6, 6], 5);
        var viaSelect = autograd.grad([selected], [table], [upstream])[0];
        var viaIndex = autograd.grad([indexed], [table], [upstream])[0];
        Assert.InRange(MaxAbsDifference(viaSelect, viaIndex), 0, 1e-6);   // row 3 sums three gradients, possibly in another order
    }

    public static TheoryData<ScalarType, double> AttentionCases => new() { { ScalarType.Float32, 1e-5 }, { ScalarType.Float64, 1e-12 }, { ScalarType.BFloat16, 2e-2 } };

    [Theory]
    [MemberData(nameof(AttentionCases))]
    public void AttentionSpeltOutEqualsTheKernelForEveryMask(ScalarType dtype, double tolerance)
    {
        // [batch 2, heads 3, T, 8]: causal prefill (T = 5), one cached step (1 query over 7 keys), and a cached chunk
        // (3 queries after 4 cached positions, a lower-triangular mask shifted by 4).
        var q = Random([2, 3, 5, 8], 6, dtype);
        var k = Random([2, 3, 7, 8], 7, dtype);
        var v = Random([2, 3, 7, 8], 8, dtype);
        var prefix = (k.narrow(2, 0, 5), v.narrow(2, 0, 5));
        var chunkMask = ones(3, 7, @bool).tril(4);
        var cases = new (string Name, Tensor Fused, Tensor Explicit)[]
        {
            ("causal", nn.functional.scaled_dot_product_attention(q, prefix.Item1, prefix.Item2, null, 0, true), Attention.Explicit(q, prefix.Item1, prefix.Item2, null, causal: true)),
            ("one step", nn.functional.scaled_dot_product_attention(q.narrow(2, 0, 1), k, v), Attention.Explicit(q.narrow(2, 0, 1), k, v, null, causal: false)),
            ("cached chunk", nn.functional.scaled_dot_product_attention(q.narrow(2, 0, 3), k, v, attn_mask: chunkMask), Attention.Explicit(q.narrow(2, 0, 3), k, v, chunkMask, causal: false)),
        };
        foreach (var (name, fused, spelt) in cases)
        {
            var difference = MaxAbsDifference(fused.to(float64), spelt.to(float64));
            output.WriteLine($"{dtype} {name}: max |spelt out − kernel| {difference:E2}");
            Assert.Equal(fused.dtype, spelt.dtype);
            Assert.InRange(difference, 0, tolerance);
        }
    }
}
