using TokenformerGen.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TokenformerGen.Primitives;

/// <summary>
/// A bias-free linear projection <c>y = x·Wᵀ</c>, <c>W [d_out, d_in]</c>: every projection of a Transformer block (the
/// block a Tokenformer replaces with Pattention), in mixed precision as a Pattention is.
/// </summary>
public sealed class Projection : MixedPrecisionProjection
{
    private readonly Parameter weight;

    /// <summary>Creates a projection from <paramref name="inputDim"/> to <paramref name="outputDim"/> with a zero weight.</summary>
    public Projection(long inputDim, long outputDim, string name = nameof(Projection)) : base(name, inputDim, outputDim)
    {
        if (inputDim <= 0 || outputDim <= 0)
            throw new ArgumentOutOfRangeException(nameof(inputDim), $"Projection sizes must be positive (d_in {inputDim}, d_out {outputDim}).");
        weight = nn.Parameter(zeros(outputDim, inputDim));
        RegisterComponents();
    }

    /// <summary>The weight <c>W [d_out, d_in]</c> (state-dict name <c>weight</c>).</summary>
    public Parameter Weight => weight;

    /// <inheritdoc/>
    protected override ScalarType WeightType => weight.dtype;

    /// <summary>Maps <c>[.., d_in]</c> to <c>[.., d_out]</c> in <see cref="MixedPrecisionProjection.ComputeType"/>.</summary>
    public override Tensor forward(Tensor input)
    {
        using var x = InComputeType(input);
        using var w = InComputeType(weight);
        return nn.functional.linear(x, w);
    }

    /// <summary>The forward as ONNX nodes: <c>x·Wᵀ</c> with the weight an initializer under its state-dict name.</summary>
    public OnnxValue ToOnnx(OnnxValue input)
    {
        using var scope = input.Graph.ModuleScope(weight);
        return input.Graph.MatMulTransposed(input, weight);
    }
}

/// <summary>Activations a generated block applies between its modules, for TorchSharp and for ONNX.</summary>
public static class Activations
{
    /// <summary>The exact (erf) GeLU of a Transformer MLP, in the input's type.</summary>
    public static Tensor Gelu(Tensor x) => nn.functional.gelu(x);

    /// <summary><see cref="Gelu(Tensor)"/> as ONNX nodes.</summary>
    public static OnnxValue Gelu(OnnxValue x) => x.Gelu();
}
