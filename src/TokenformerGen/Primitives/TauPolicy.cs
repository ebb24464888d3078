// Shared verbatim with the source generator (linked into generators/). Keep it plain C# that compiles for netstandard2.0.
namespace TokenformerGen.Primitives;

/// <summary>How a Pattention's τ, the scale after the L2 normalisation, is chosen (spec: <c>pattention.tau</c>).</summary>
public enum TauPolicy
{
    /// <summary><c>sqrt_n</c>: τ = √n of the current token count, as the official code does; growth changes τ.</summary>
    SqrtN,
    /// <summary><c>fixed</c>: τ is a stored constant that a <c>zero_keys</c> stage inherits from its parent, so growth preserves the function.</summary>
    Fixed,
}
