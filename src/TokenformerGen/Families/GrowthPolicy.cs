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

/// <summary>
/// What each growth policy does, stated once: the generator writes each growth map's per-policy values by asking it,
/// the validator and planner decide function preservation and τ by it, and the runtime reads the maps in its order.
/// A new policy is a member above and its rule here (and its spelling in <c>SpecChoices</c>).
/// </summary>
public static class GrowthPolicies
{
    /// <summary>Every policy, in declaration order: the order of a growth map's per-policy values.</summary>
    public static GrowthPolicy[] All { get; } = (GrowthPolicy[])System.Enum.GetValues(typeof(GrowthPolicy));

    /// <summary>
    /// Whether new key rows start at zero (an L2-normalised Θ then gives the new tokens no say until they learn, and a
    /// fixed τ carries over, so the function is kept); otherwise they are drawn like a from-scratch init. New value rows
    /// are drawn like a from-scratch init under every policy.
    /// </summary>
    public static bool ZeroesNewKeys(this GrowthPolicy policy) => policy switch
    {
        GrowthPolicy.ZeroKeys => true,
        GrowthPolicy.Random => false,
        _ => throw new System.ArgumentOutOfRangeException(nameof(policy), policy, "Unknown growth policy."),
    };

    /// <summary>The policy's position in <see cref="All"/>.</summary>
    public static int IndexOf(GrowthPolicy policy) => System.Array.IndexOf(All, policy) is var i and >= 0
        ? i : throw new System.ArgumentOutOfRangeException(nameof(policy), policy, "Unknown growth policy.");
}
