using TokenformerGen.Architecture;
using TokenformerGen.Primitives;
using TokenformerGen.Text.Families;

namespace TokenformerGen.Families;

/// <summary>A stage's dimensions and choices: all but <see cref="Layers"/> (and the value std that follows it) are the family's.</summary>
/// <param name="Vocabulary">Vocabulary size before padding.</param>
/// <param name="PaddedVocabulary">Rows of the embedding (vocabulary padded to a multiple).</param>
/// <param name="Context">Context length in tokens.</param>
/// <param name="Layers">Number of blocks of the stage (a stage may grow deeper than its parent).</param>
/// <param name="Hidden">Model width d.</param>
/// <param name="Heads">Attention heads.</param>
/// <param name="RotaryFraction">Share of each head that is rotated.</param>
/// <param name="RotaryBase">Rotary frequency base.</param>
/// <param name="Norm">Pattention normalisation Θ.</param>
/// <param name="TauPolicy">How τ is chosen.</param>
/// <param name="Epsilon">ε in the Pattention L2 norm (0 = off).</param>
/// <param name="KeyStd">Std of key tokens at initialisation.</param>
/// <param name="ValueStd">Std of value tokens at initialisation.</param>
/// <param name="EmbeddingStd">Std of the embedding at initialisation.</param>
/// <param name="Tokenizer">The tokenizer the vocabulary belongs to.</param>
/// <param name="Block">What the blocks project with (Pattention or linear layers).</param>
/// <param name="MlpHidden">A Transformer block's MLP width (0 for a Tokenformer).</param>
/// <remarks>For a Transformer, <see cref="KeyStd"/> is the std of the projections that read a block's input and
/// <see cref="ValueStd"/> that of the ones that write its output; Θ, τ and ε have no meaning there.</remarks>
public sealed record ArchitectureInfo(
    long Vocabulary, long PaddedVocabulary, long Context, long Layers, long Hidden, long Heads,
    double RotaryFraction, double RotaryBase, PattentionNorm Norm, TauPolicy TauPolicy,
    double Epsilon, double KeyStd, double ValueStd, double EmbeddingStd, TokenizerKind Tokenizer,
    BlockKind Block = BlockKind.Tokenformer, long MlpHidden = 0)
{
    /// <summary>Dims per head.</summary>
    public long HeadDim => Hidden / Heads;
}

/// <summary>Parameter-token counts (or τ values) of the three kinds of Pattention in a block.</summary>
/// <param name="Qkv">Each of the query, key and value Pattentions.</param>
/// <param name="Proj">The attention output Pattention.</param>
/// <param name="Ffn">The FFN Pattention.</param>
public readonly record struct PattentionSizes<T>(T Qkv, T Proj, T Ffn);

/// <summary>How much training a stage gets, for the trainer and the schedule runner.</summary>
/// <param name="Tokens">Training tokens.</param>
/// <param name="LearningRate">Peak learning rate.</param>
/// <param name="Warmup">Share of steps spent in linear warmup.</param>
/// <param name="Batch">Sequences per optimizer step.</param>
public sealed record TrainingBudget(long Tokens, double LearningRate, double Warmup, long Batch);

/// <summary>Everything known about one stage of a family at build time.</summary>
/// <param name="Family">The family name.</param>
/// <param name="Name">The stage name.</param>
/// <param name="Architecture">The family's fixed dimensions.</param>
/// <param name="Tokens">Parameter tokens per Pattention kind.</param>
/// <param name="Taus">τ per Pattention kind.</param>
/// <param name="Budget">The stage's training budget, or null when the spec gives none.</param>
/// <param name="GrowsFrom">The stage it grows from, or null for a root.</param>
/// <param name="Growth">The growth policy of parameter tokens from <paramref name="GrowsFrom"/>.</param>
/// <param name="SpecHash">SHA-256 of the spec text the stage was generated from.</param>
/// <param name="LayerGrowth">How the blocks it adds to its parent's are made, or null when it has its parent's depth.</param>
public sealed record StageInfo(
    string Family, string Name, ArchitectureInfo Architecture, PattentionSizes<long> Tokens,
    PattentionSizes<double> Taus, TrainingBudget? Budget, string? GrowsFrom, GrowthPolicy? Growth, string SpecHash,
    LayerGrowth? LayerGrowth = null)
{
    /// <summary>Weights of one block (<see cref="ModelSize"/>).</summary>
    public long BlockParameters => Architecture.Block == BlockKind.Transformer
        ? ModelSize.TransformerBlockParameters(Architecture.Hidden, Architecture.MlpHidden)
        : ModelSize.TokenformerBlockParameters(Architecture.Hidden, Tokens.Qkv, Tokens.Proj, Tokens.Ffn);

    /// <summary>Trainable parameters.</summary>
    public long Parameters => ModelSize.Parameters(Architecture.PaddedVocabulary, Architecture.Layers, Architecture.Hidden, BlockParameters);

    /// <summary>Training FLOPs per token at the family's context length.</summary>
    public long TrainingFlopsPerToken => TrainingFlopsPerTokenAt(Architecture.Context);

    /// <summary>Training FLOPs per token at <paramref name="context"/> tokens per sequence (attention grows with it).</summary>
    public long TrainingFlopsPerTokenAt(long context)
        => ModelSize.TrainingFlopsPerToken(Architecture.PaddedVocabulary, Architecture.Layers, Architecture.Hidden, BlockParameters, context);

    /// <summary>How the stage grows from its parent as a spec says it (<c>zero_keys</c>, <c>zero_keys, layers identity</c>, <c>layers stack</c>), or null for a root.</summary>
    public string? GrowthDescription => GrowsFrom is null ? null : DescribeGrowth(Growth);

    /// <summary>
    /// How the stage grows when its tokens grow with <paramref name="tokens"/> instead of the spec's policy: the tokens'
    /// policy (a Transformer has none), and the blocks' when the depth grows.
    /// </summary>
    public string DescribeGrowth(GrowthPolicy? tokens)
        => string.Join(", ", new[]
        {
            Growth is null || tokens is null ? null : Declarations.SpecChoices.SpecName(tokens.Value),
            LayerGrowth is { } layers ? "layers " + Declarations.SpecChoices.SpecName(layers) : null,
        }.Where(s => s is not null));

    /// <summary>
    /// Whether τ is not √ of the stage's own counts: a stage grown under <c>tau: fixed</c> keeps its root's τ (or a root
    /// takes <c>tau_tokens</c>), where a model of these counts trained on its own would have √n of its own (a Transformer
    /// has no τ).
    /// </summary>
    public bool HasBorrowedTau => this != WithOwnTau();

    /// <summary>
    /// The stage as a model of these counts trained on its own computes: τ = √n of its own counts per Pattention kind
    /// (itself when that is its τ already, or for a Transformer). How a stage trains from scratch as a reference.
    /// </summary>
    public StageInfo WithOwnTau() => Architecture.Block == BlockKind.Tokenformer
        ? this with { Taus = new(Math.Sqrt(Tokens.Qkv), Math.Sqrt(Tokens.Proj), Math.Sqrt(Tokens.Ffn)) }
        : this;

    /// <summary>"Family/Stage".</summary>
    public string QualifiedName => $"{Family}/{Name}";
}
