// Shared verbatim with the source generator (linked into generators/): the spec's choice and the
// runtime's are one enum. Keep it plain C# that compiles for netstandard2.0.
namespace TokenformerGen.Primitives;

/// <summary>Θ, the row-wise normalisation applied to the scores <c>A = X·Kᵀ</c> of a Pattention (spec: <c>pattention.norm</c>).</summary>
public enum PattentionNorm
{
    /// <summary><c>l2_norm_gelu</c>: <c>gelu(A / ‖A‖₂ · τ)</c>, the default, used by every released model.</summary>
    L2NormGelu,
    /// <summary><c>gelu_l2_norm</c>: <c>g = gelu(A); g / ‖g‖₂ · τ</c>.</summary>
    GeluL2Norm,
    /// <summary><c>softmax</c>: <c>softmax(A) · n</c>, with n the current token count (τ is not used).</summary>
    Softmax,
}
