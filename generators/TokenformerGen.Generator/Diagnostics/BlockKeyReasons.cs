namespace TokenformerGen.Generator.Diagnostics;

/// <summary>
/// Why a setting of one block kind does not apply to the other (the reason in TFG0209), written once for both front
/// ends; each passes the setting as it spells it (<c>block: transformer</c>, <c>Block = BlockKind.Transformer</c>).
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
}
