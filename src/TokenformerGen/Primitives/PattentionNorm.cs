namespace TokenformerGen.Primitives;

/// <summary>Θ, the row-wise normalisation applied to the scores <c>A = X·Kᵀ</c> of a Pattention.</summary>
public enum PattentionNorm
{
    /// <summary><c>gelu(A / ‖A‖₂ · τ)</c>: the default, used by every released model.</summary>
    L2NormGelu,
    /// <summary><c>g = gelu(A); g / ‖g‖₂ · τ</c>.</summary>
    GeluL2Norm,
    /// <summary><c>softmax(A) · n</c>, with n the current token count (τ is not used).</summary>
    Softmax,
}

/// <summary>How a Pattention's temperature τ is chosen.</summary>
public enum TemperaturePolicy
{
    /// <summary>τ = √n of the current token count, as the official code does; growth changes τ.</summary>
    SqrtN,
    /// <summary>τ is a stored constant, so growth with zero key rows preserves the function.</summary>
    Fixed,
}
