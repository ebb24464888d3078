using static TorchSharp.torch;

namespace TokenformerGen.Primitives;

/// <summary>
/// A projection of a block — a <see cref="Pattention"/> or a linear <see cref="Projection"/> — that keeps its weights in the
/// model's float32 and computes in <see cref="ComputeType"/>: in bfloat16 the multiplications run in bfloat16 while the
/// gradients reach float32 masters. <c>TokenformerModel.Place</c> sets the type, <c>PrepareForInference</c> converts the
/// weights to it once.
/// </summary>
public abstract class MixedPrecisionProjection : TorchSharp.torch.nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the module, which maps <paramref name="inputDim"/> to <paramref name="outputDim"/>.</summary>
    protected MixedPrecisionProjection(string name, long inputDim, long outputDim) : base(name) => (InputDim, OutputDim) = (inputDim, outputDim);

    /// <summary>d_in.</summary>
    public long InputDim { get; }

    /// <summary>d_out.</summary>
    public long OutputDim { get; }

    /// <summary>The type the weights are kept in.</summary>
    protected abstract ScalarType WeightType { get; }

    /// <summary>What the forward computes in: null (the default) for the weights' own type, or bfloat16; set by <c>TokenformerModel.Place</c>.</summary>
    public ScalarType? ComputeType { get; set; }

    /// <summary>
    /// <paramref name="tensor"/> (an input or a weight) in the type the forward computes in; a cast to the type it already
    /// holds is a free alias without an autograd node. Projections that read one input — a block's query, key and value —
    /// cast it once with this instead of once each; their gradients then meet in that type before the one cast back.
    /// </summary>
    public Tensor InComputeType(Tensor tensor) => tensor.to(ComputeType ?? WeightType);
}
