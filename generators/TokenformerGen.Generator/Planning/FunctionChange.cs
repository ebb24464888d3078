using TokenformerGen.Families;
using TokenformerGen.Primitives;

namespace TokenformerGen.Generator.Planning;

/// <summary>Why growing a stage does not leave its function exactly as it was (or <see cref="None"/> when it does).</summary>
internal enum FunctionChange
{
    /// <summary>The grown model computes exactly what the trained one did.</summary>
    None,

    /// <summary>New key rows are random, so the new tokens contribute at once (<c>growth: random</c>).</summary>
    RandomKeys,

    /// <summary>Zero keys still get softmax weight (exp 0 = 1), which dilutes the old tokens (<c>norm: softmax</c>).</summary>
    SoftmaxMass,

    /// <summary>τ, the scale after the L2 norm, changes (<c>tau: sqrt_n</c> follows the token count).</summary>
    TauChanges,

    /// <summary>New blocks are copies of trained ones (<c>layers: stack</c>), which add their output again.</summary>
    StackedLayers,
}

/// <summary>
/// The one rule that decides whether a growth preserves the function, from the facts of an edge. The planner
/// asks it per policy for every edge (what the growth maps state), the validator asks it for the spec's policy
/// (which warning to give).
/// </summary>
internal static class FunctionPreservation
{
    /// <param name="norm">The family's Θ.</param>
    /// <param name="policy">How new rows are made.</param>
    /// <param name="grows">Whether any Pattention gains tokens.</param>
    /// <param name="tauChanges">Whether any Pattention's τ differs between the two stages.</param>
    /// <param name="stacks">Whether blocks are added as copies of trained ones (<c>layers: stack</c>); blocks added by
    /// <c>identity</c> write nothing to the residual stream, so they keep the function.</param>
    public static FunctionChange Of(PattentionNorm norm, GrowthPolicy policy, bool grows, bool tauChanges, bool stacks = false)
    {
        if (grows && !policy.ZeroesNewKeys()) return FunctionChange.RandomKeys;
        if (grows && norm == PattentionNorm.Softmax) return FunctionChange.SoftmaxMass;
        if (tauChanges && norm != PattentionNorm.Softmax) return FunctionChange.TauChanges;
        if (stacks) return FunctionChange.StackedLayers;
        return FunctionChange.None;
    }
}
