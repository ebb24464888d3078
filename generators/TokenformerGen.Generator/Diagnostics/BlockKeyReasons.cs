namespace TokenformerGen.Generator.Diagnostics;

/// <summary>
/// Why a setting does not apply (the reason in TFG0209): mostly a setting of one block kind on the other. Written once
/// for both front ends; each passes the setting as it spells it (<c>block: transformer</c>, <c>Block = BlockKind.Transformer</c>).
/// </summary>
internal static class BlockKeyReasons
{
    /// <summary>Token counts or a token growth policy on a Transformer.</summary>
    public const string NoParameterTokens = "a Transformer block has no parameter tokens";

    /// <summary>A token growth policy on a Transformer, which grows by <paramref name="layerGrowth"/> instead.</summary>
    public static string GrowsInDepth(string layerGrowth) => $"{NoParameterTokens}: it grows in depth ({layerGrowth})";

    /// <summary>Θ, τ or ε on a Transformer (<paramref name="block"/>).</summary>
    public static string PattentionOnly(string block) => $"Θ, τ and ε are Pattention's, and the block is {block}";

    /// <summary>An MLP width on a Tokenformer (<paramref name="block"/>).</summary>
    public static string MlpWidthOnly(string block) => $"it sets a Transformer block's MLP width, and the block is {block}";

    /// <summary>τ's counts without a fixed τ (<paramref name="fixedTau"/>): under √n every stage takes its own.</summary>
    public static string TauTokensNeedFixed(string fixedTau) => $"it sets the counts whose √ is a fixed τ, and only {fixedTau} fixes τ (otherwise each stage takes √n of its own counts)";
}
