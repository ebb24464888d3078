// Shared verbatim with the source generator (linked into generators/). Keep it plain C# that compiles for netstandard2.0.
namespace TokenformerGen.Families;

/// <summary>How the rows appended to a Pattention's key and value tokens are initialised (spec: <c>stages[].growth</c>).</summary>
public enum GrowthPolicy
{
    /// <summary>
    /// <c>zero_keys</c>: new key rows are zero, new value rows random. With τ kept (<c>tau: fixed</c>) and an
    /// L2-normalised Θ the grown model computes exactly the same function (GeLU(0) = 0), and the new keys
    /// still get gradient through GeLU'(0) = ½.
    /// </summary>
    ZeroKeys,

    /// <summary>
    /// <c>random</c>, the official recipe: new key and value rows drawn like a from-scratch init. The function
    /// changes, so the loss jumps at growth.
    /// </summary>
    Random,
}
