// Shared verbatim with the source generator (linked into generators/). Keep it plain C# that compiles for netstandard2.0.
namespace TokenformerGen.Families;

/// <summary>What a family's blocks project with (spec: <c>architecture.block</c>).</summary>
public enum BlockKind
{
    /// <summary>
    /// <c>tokenformer</c>: every projection is a Pattention (q, k, v and output: <c>qkv</c>/<c>proj</c> tokens; the FFN one
    /// Pattention of <c>ffn</c> tokens), 16·d² parameters a block at qkv = proj = d and ffn = 4d.
    /// </summary>
    Tokenformer,

    /// <summary>
    /// <c>transformer</c>: the standard block it is compared with — bias-free linear q, k, v and output projections
    /// (d → d) and an MLP d → <c>mlp_hidden</c> → d with exact GeLU: 4·d² + 2·d·mlp_hidden parameters a block.
    /// </summary>
    Transformer,
}

/// <summary>How the blocks a stage adds to its parent's are made (spec: <c>stages[].growth.layers</c>).</summary>
public enum LayerGrowth
{
    /// <summary>
    /// <c>identity</c>: new blocks go on top, their input projections drawn like a from-scratch init and their output
    /// weights zero (a Transformer's output projection and MLP down-projection, a Tokenformer's value tokens of proj and
    /// FFN), so each adds nothing to the residual stream: the grown model computes exactly what the trained one did.
    /// </summary>
    Identity,

    /// <summary>
    /// <c>stack</c>: G_stack's whole-model stacking — block <c>i</c> of the grown model, for <c>i</c> at or past the
    /// parent's depth L, is a copy of the parent's block <c>i mod L</c> (1 → 2 → 4 layers: the trained stack repeated
    /// on top of itself). The function changes.
    /// </summary>
    Stack,
}
