using TokenformerGen.Architecture;
using TokenformerGen.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TokenformerGen.Primitives;

/// <summary>The LayerNorms of a Tokenformer.</summary>
public static class LayerNorms
{
    /// <summary>The epsilon of every LayerNorm in the official models.</summary>
    public const double Epsilon = 1e-5;

    /// <summary>
    /// Non-parametric LayerNorm over the last dim (no weight, no bias), used before attention and
    /// the FFN of every block. Statistics are float32 or wider whatever the input's type.
    /// </summary>
    public static Tensor NonParametric(Tensor x, double epsilon = Epsilon) => Normalize(x, null, null, epsilon);

    /// <summary>LayerNorm over the last dim with a per-feature <paramref name="weight"/> and <paramref name="bias"/> (the final norm).</summary>
    public static Tensor Affine(Tensor x, Tensor weight, Tensor bias, double epsilon = Epsilon) => Normalize(x, weight, bias, epsilon);

    /// <summary>
    /// <see cref="NonParametric(Tensor, double)"/> as an ONNX node over <c>[.., width]</c>: LayerNormalization with a scale of
    /// ones (the operator requires one) and no bias.
    /// </summary>
    public static OnnxValue NonParametric(OnnxValue x, long width, double epsilon = Epsilon)
        => x.LayerNorm(x.Graph.Constant(FormattableString.Invariant($"layer_norm.ones.{width}"), () => ones(width)), null, epsilon);

    // The fused kernel (statistics accumulate in float32 for reduced-precision inputs), except on the meta device,
    // which has no kernel for it: there the same function is spelt out, so device tests can trace a whole model.
    private static Tensor Normalize(Tensor x, Tensor? weight, Tensor? bias, double epsilon)
        => x.device_type == DeviceType.META
            ? Explicit(x, weight, bias, epsilon)
            : nn.functional.layer_norm(x, [x.shape[^1]], weight, bias, epsilon);

    /// <summary>
    /// The fused kernel's function from elementary ops: <c>(x − mean) / √(var + ε) · weight + bias</c> with the biased
    /// variance, computed in float32 (float64 for float64 input) and returned in the input's type.
    /// </summary>
    internal static Tensor Explicit(Tensor x, Tensor? weight, Tensor? bias, double epsilon)
    {
        using var scope = NewDisposeScope();
        var wide = x.dtype == ScalarType.Float64 ? x : x.to(ScalarType.Float32);
        var centered = wide - wide.mean([-1L], keepdim: true);
        var variance = centered.square().mean([-1L], keepdim: true);
        var normalized = centered * (variance + epsilon).rsqrt();
        if (weight is not null) normalized = normalized * weight;
        if (bias is not null) normalized = normalized + bias;
        return normalized.to(x.dtype).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// An affine LayerNorm over the last dim (<c>weight</c> and <c>bias</c> of <c>[d]</c>, ε 1e-5): the final norm of a
/// Tokenformer. Its statistics and parameters stay float32 in every precision.
/// </summary>
public sealed class AffineLayerNorm : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly Parameter bias;

    /// <summary>Creates the norm with weight 1 and bias 0.</summary>
    public AffineLayerNorm(long width, double epsilon = LayerNorms.Epsilon, string name = ParameterNames.FinalNormModule) : base(name)
    {
        Epsilon = epsilon;
        weight = nn.Parameter(ones(width));
        bias = nn.Parameter(zeros(width));
        RegisterComponents();
    }

    /// <summary>ε under the square root.</summary>
    public double Epsilon { get; }

    /// <summary>The per-feature scale <c>[d]</c> (<c>weight</c>).</summary>
    public Parameter Weight => weight;

    /// <summary>The per-feature shift <c>[d]</c> (<c>bias</c>).</summary>
    public Parameter Bias => bias;

    /// <summary>Normalises <c>[.., d]</c>.</summary>
    public override Tensor forward(Tensor input) => LayerNorms.Affine(input, weight, bias, Epsilon);

    /// <summary>The norm as an ONNX node (LayerNormalization with the weight and bias as initializers).</summary>
    public OnnxValue ToOnnx(OnnxValue input) => input.LayerNorm(input.Graph.Weight(weight), input.Graph.Weight(bias), Epsilon);
}
