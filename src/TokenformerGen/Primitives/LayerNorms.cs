using static TorchSharp.torch;

namespace TokenformerGen.Primitives;

/// <summary>The LayerNorms of a Tokenformer.</summary>
public static class LayerNorms
{
    /// <summary>The epsilon of every LayerNorm in the official models.</summary>
    public const double Epsilon = 1e-5;

    /// <summary>
    /// Non-parametric LayerNorm over the last dim (no weight, no bias), used before attention and
    /// the FFN of every block.
    /// </summary>
    public static Tensor NonParametric(Tensor x, double epsilon = Epsilon)
        => nn.functional.layer_norm(x, [x.shape[^1]], eps: epsilon);
}
