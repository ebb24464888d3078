using TokenformerGen.Primitives;
using TokenformerGen.Tests.Reference;
using static TokenformerGen.Tests.Reference.TensorArrays;

namespace TokenformerGen.Tests.Primitives;

public class PattentionTests
{
    private const double Tolerance = 1e-5;

    private static (Pattention Module, double[][] X, double[][] K, double[][] V) Build(PattentionNorm norm, int n = 12, int dIn = 8, int dOut = 6,
                                                                                    TauPolicy policy = TauPolicy.SqrtN, double? tau = null,
                                                                                    ScalarType dtype = ScalarType.Float32)
    {
        var x = Random(5, dIn, seed: 1);
        var k = Random(n, dIn, seed: 2, scale: 0.5);
        var v = Random(n, dOut, seed: 3, scale: 0.5);
        var module = new Pattention(dIn, n, dOut, norm, policy, tau);
        module.to(dtype);
        using (no_grad())
        {
            module.Keys.copy_(FromMatrix(k, dtype));
            module.Values.copy_(FromMatrix(v, dtype));
        }
        return (module, x, k, v);
    }

    [Fact]
    public void L2NormGeluMatchesFloat64Reference()
    {
        var (module, x, k, v) = Build(PattentionNorm.L2NormGelu);
        var expected = Float64Reference.Pattention(x, k, v, row => Float64Reference.L2NormGelu(row, Math.Sqrt(12)));
        Assert.InRange(RelativeError(ToMatrix(module.forward(FromMatrix(x))), expected), 0, Tolerance);
    }

    [Fact]
    public void GeluL2NormMatchesFloat64Reference()
    {
        var (module, x, k, v) = Build(PattentionNorm.GeluL2Norm);
        var expected = Float64Reference.Pattention(x, k, v, row => Float64Reference.GeluL2Norm(row, Math.Sqrt(12)));
        Assert.InRange(RelativeError(ToMatrix(module.forward(FromMatrix(x))), expected), 0, Tolerance);
    }

    [Fact]
    public void SoftmaxMatchesFloat64Reference()
    {
        var (module, x, k, v) = Build(PattentionNorm.Softmax);
        var expected = Float64Reference.Pattention(x, k, v, Float64Reference.SoftmaxTimesN);
        Assert.InRange(RelativeError(ToMatrix(module.forward(FromMatrix(x))), expected), 0, Tolerance);
    }

    [Fact]
    public void FixedTemperatureIsUsedInsteadOfSqrtN()
    {
        var (module, x, k, v) = Build(PattentionNorm.L2NormGelu, policy: TauPolicy.Fixed, tau: 2.5);
        Assert.Equal(2.5, module.Tau);
        var expected = Float64Reference.Pattention(x, k, v, row => Float64Reference.L2NormGelu(row, 2.5));
        Assert.InRange(RelativeError(ToMatrix(module.forward(FromMatrix(x))), expected), 0, Tolerance);
    }

    [Fact]
    public void Float64ModuleMatchesReferenceToTwelveDigits()
    {
        var (module, x, k, v) = Build(PattentionNorm.L2NormGelu, dtype: float64);
        var expected = Float64Reference.Pattention(x, k, v, row => Float64Reference.L2NormGelu(row, Math.Sqrt(12)));
        Assert.InRange(RelativeError(ToMatrix(module.forward(FromMatrix(x, float64))), expected), 0, 1e-12);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.5)]
    public void L2NormGeluGradientsMatchAutogradOfTheFormulaInFloat64(double epsilon)
        // The module's fused backward against autograd over the plain formula: gelu(A / √(‖A‖² + ε) · τ).
        => AssertGradientsMatchTheFormula(PattentionNorm.L2NormGelu, epsilon, (scores, tau) =>
            nn.functional.gelu(scores * ((scores.square().sum(-1, keepdim: true) + epsilon).rsqrt() * tau)));

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.5)]
    public void GeluL2NormGradientsMatchAutogradOfTheFormulaInFloat64(double epsilon)
        // Θ = g / √(‖g‖² + ε) · τ with g = gelu(A), whose backward runs through the row scale (it is not fused).
        => AssertGradientsMatchTheFormula(PattentionNorm.GeluL2Norm, epsilon, (scores, tau) =>
        {
            var g = nn.functional.gelu(scores);
            return g * ((g.square().sum(-1, keepdim: true) + epsilon).rsqrt() * tau);
        });

    // The module's backward against autograd over theta(A, τ) written out, both in float64; then the float32 module
    // against the float64 gradients. Input [2, 5, d_in] exercises batching.
    private static void AssertGradientsMatchTheFormula(PattentionNorm norm, double epsilon, Func<Tensor, double, Tensor> theta)
    {
        const int n = 12, dIn = 8, dOut = 6;
        var x = tensor(Random(10, dIn, seed: 1).SelectMany(r => r).ToArray(), [2, 5, dIn], float64);
        var k = tensor(Random(n, dIn, seed: 2, scale: 0.5).SelectMany(r => r).ToArray(), [n, dIn], float64);
        var v = tensor(Random(n, dOut, seed: 3, scale: 0.5).SelectMany(r => r).ToArray(), [n, dOut], float64);
        var upstream = tensor(Random(10, dOut, seed: 4).SelectMany(r => r).ToArray(), [2, 5, dOut], float64);
        var tau = 2.5;

        var rx = x.clone().requires_grad_();
        var rk = k.clone().requires_grad_();
        var rv = v.clone().requires_grad_();
        matmul(theta(matmul(rx, rk.t()), tau), rv).backward([upstream]);

        foreach (var (dtype, tolerance) in new[] { (float64, 1e-12), (float32, 1e-5) })
        {
            var module = new Pattention(dIn, n, dOut, norm, TauPolicy.Fixed, tau, epsilon);
            module.to(dtype);
            using (no_grad())
            {
                module.Keys.copy_(k);
                module.Values.copy_(v);
            }
            var mx = x.to(dtype).detach().requires_grad_();   // to() of the same dtype aliases x
            module.forward(mx).backward([upstream.to(dtype)]);
            Assert.InRange(Relative(mx.grad!, rx.grad!), 0, tolerance);
            Assert.InRange(Relative(module.Keys.grad!, rk.grad!), 0, tolerance);
            Assert.InRange(Relative(module.Values.grad!, rv.grad!), 0, tolerance);
        }
    }

    // max |actual − expected| / max |expected|, in float64.
    private static double Relative(Tensor actual, Tensor expected)
        => ((actual.to(float64) - expected).abs().max() / expected.abs().max()).item<double>();

    [Fact]
    public void BatchedInputIsRowWise()
    {
        var (module, x, _, _) = Build(PattentionNorm.L2NormGelu);
        var flat = module.forward(FromMatrix(x));
        var batched = module.forward(FromMatrix(x).view(1, 5, 8).expand(3, 5, 8));
        Assert.Equal([3L, 5, 6], batched.shape);
        Assert.Equal(0, MaxAbsDifference(batched[2], flat), 6);
    }

    [Fact]
    public void ZeroScoreRowIsNaNWithoutEpsilonAndFiniteWithIt()
    {
        // The official code has no ε: an all-zero score row divides 0 by 0.
        var plain = new Pattention(4, 3, 2);
        Assert.True(plain.forward(ones(1, 4)).isnan().any().item<bool>());
        var guarded = new Pattention(4, 3, 2, epsilon: 1e-6);
        Assert.False(guarded.forward(ones(1, 4)).isnan().any().item<bool>());
    }

    [Fact]
    public void EpsilonEntersUnderTheSquareRoot()
    {
        // Scores [3, 4] have ‖·‖² = 25; with ε = 11, the scale is τ / √36 = τ / 6.
        using var scores = tensor(new double[] { 3, 4 }).view(1, 2);
        var weights = Pattention.Normalize(scores, PattentionNorm.GeluL2Norm, tau: 6, epsilon: 11);
        var g = new[] { Float64Reference.Gelu(3), Float64Reference.Gelu(4) };
        var expectedScale = 6 / Math.Sqrt(g[0] * g[0] + g[1] * g[1] + 11);
        Assert.Equal(g[0] * expectedScale, weights[0, 0].item<double>(), 12);
        Assert.Equal(g[1] * expectedScale, weights[0, 1].item<double>(), 12);
    }

    [Fact]
    public void StateDictUsesOfficialNames()
    {
        var module = new Pattention(4, 3, 2);
        Assert.Equal(["key_param_tokens", "value_param_tokens"], module.state_dict().Keys.Order());
        Assert.Equal([3L, 4], module.state_dict()["key_param_tokens"].shape);
        Assert.Equal([3L, 2], module.state_dict()["value_param_tokens"].shape);
    }

    [Fact]
    public void RejectsNonsense()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Pattention(4, 0, 2));
        Assert.Throws<ArgumentException>(() => new Pattention(4, 3, 2, fixedTau: 2));
    }
}
