using TokenformerGen.Declarations;
using TokenformerGen.Families;
using TokenformerGen.Generator.Plumbing;
using TokenformerGen.Primitives;
using TokenformerGen.Text.Families;

namespace TokenformerGen.Generator.Planning;

// The validated, immutable model of one family ("plan"): what every emitter reads. Records with
// value equality and EquatableArray, no Roslyn symbols, syntax, locations or plain arrays, so the
// incremental pipeline can cache it and compare runs. All derived values (padded vocabulary, head
// dimension, rotary dimensions, τ, parameter counts, FLOPs) are computed once, here.

/// <summary>One model family: fixed dimensions and a schedule of stages joined by growth edges.</summary>
/// <param name="Name">Family name, a C# identifier (<c>TinyKjv</c>); prefixes generated type names.</param>
/// <param name="Namespace">Namespace of the generated code.</param>
/// <param name="Origin">Where the family was declared: a YAML spec, or attributes on a partial class.</param>
/// <param name="SourceFileName">The spec's file name (no directory), for generated comments.</param>
/// <param name="Stages">Stages in schedule order; a stage's parent always comes before it.</param>
/// <param name="Edges">One edge per stage that grows from another, in schedule order.</param>
/// <param name="SpecText">The spec file's text exactly as read (for attributes: the attribute lists as written).</param>
/// <param name="SpecSha256">Lower-case hex SHA-256 of the UTF-8 bytes of <paramref name="SpecText"/>.</param>
internal sealed record FamilyPlan(
    string Name,
    string Namespace,
    FamilyOrigin Origin,
    string SourceFileName,
    TokenizerKind Tokenizer,
    VocabularyPlan Vocabulary,
    int Context,
    ArchitecturePlan Architecture,
    EquatableArray<StagePlan> Stages,
    EquatableArray<GrowthEdgePlan> Edges,
    string SpecText,
    string SpecSha256)
{
    /// <summary>The generated constants class: <c>{Name}Family</c>.</summary>
    public string ClassName => GeneratedNames.FamilyClass(Name);
}

/// <summary>Which front end declared a family. Everything after the raw spec is shared; only the
/// family class declaration and the generated files' header differ.</summary>
internal enum FamilyOrigin
{
    /// <summary>A <c>*.tfmodel.yaml</c> spec: the generator declares <c>public static partial class {Name}Family</c>.</summary>
    Yaml,

    /// <summary>
    /// <c>[TokenformerFamily]</c> on the user's <c>partial class {Name}Family</c>: the generated parts
    /// add members without modifiers, so the user's accessibility and <c>static</c> apply.
    /// </summary>
    Attributes,
}

/// <param name="Size">Vocabulary size as given.</param>
/// <param name="PadToMultiple">Padding multiple (1 = no padding).</param>
/// <param name="Padded">Rows of the embedding: <c>ceil(Size / PadToMultiple) · PadToMultiple</c>.</param>
internal sealed record VocabularyPlan(int Size, int PadToMultiple, int Padded);

/// <summary>Dimensions and choices fixed for the whole family (only the depth may change between stages).</summary>
/// <param name="Layers">Blocks of a root stage and of every stage that does not say (<c>architecture.layers</c>).</param>
/// <param name="HeadDim">Hidden / Heads.</param>
/// <param name="RotaryDims">int(RotaryFraction · HeadDim): even, 1..HeadDim.</param>
/// <param name="Block">What the blocks project with.</param>
/// <param name="MlpHidden">A Transformer block's MLP width (0 for a Tokenformer).</param>
/// <param name="TauTokens">With <see cref="TauPolicy.Fixed"/>, the counts whose √ is a root stage's τ (<c>tau_tokens</c>); null: its own.</param>
internal sealed record ArchitecturePlan(
    int Layers,
    int Hidden,
    int Heads,
    int HeadDim,
    double RotaryFraction,
    int RotaryDims,
    double RotaryBase,
    PattentionNorm Norm,
    TauPolicy TauPolicy,
    double Epsilon,
    InitPlan Init,
    bool TiedEmbeddings,
    BlockKind Block,
    int MlpHidden,
    PattentionCounts? TauTokens)
{
    /// <summary>Whether the blocks are standard Transformer blocks (no parameter tokens).</summary>
    public bool IsTransformer => Block == BlockKind.Transformer;
}

/// <param name="KeyStd">Std of new key tokens (from scratch and for random growth).</param>
/// <param name="ValueStd">Std of new value tokens: 2 / (L·√d) for <see cref="ValueInitializer.Wang"/> (L of the root depth; a deeper stage has its own), else as given.</param>
/// <param name="EmbeddingStd">Std of the token embedding.</param>
internal sealed record InitPlan(double KeyStd, ValueInitializer Value, double ValueStd, double EmbeddingStd);

/// <summary>Parameter-token counts of the three Pattention kinds (q, k and v each have <see cref="Qkv"/>).</summary>
internal sealed record PattentionCounts(int Qkv, int Proj, int Ffn);

/// <summary>τ of each Pattention kind in one stage.</summary>
internal sealed record PattentionTaus(double Qkv, double Proj, double Ffn);

/// <summary>One stage of the schedule.</summary>
/// <param name="Index">Position in the schedule (0-based).</param>
/// <param name="GrowsFrom">Name of the parent stage, or null for a root stage.</param>
/// <param name="ParentIndex">Index of the parent stage, or null for a root stage.</param>
/// <param name="Growth">Growth policy of parameter tokens from the parent, or null for a root stage (and a Transformer's).</param>
/// <param name="LayerGrowth">How the blocks added to the parent's are made, or null when the depth does not grow.</param>
/// <param name="Layers">Blocks of this stage.</param>
/// <param name="ValueStd">Std of value tokens (a Transformer's output projections) at this depth.</param>
/// <param name="Tau">τ per Pattention kind: √n of this stage's counts, or inherited (tau: fixed with zero_keys).</param>
/// <param name="Parameters">Trainable parameters (ModelSize.Parameters with the padded vocabulary).</param>
/// <param name="ForwardFlopsPerToken">ModelSize.ForwardFlopsPerToken at the family's context.</param>
/// <param name="TrainingFlopsPerToken">ModelSize.TrainingFlopsPerToken at the family's context.</param>
/// <param name="Training">The stage's training budget, or null when the spec gives none.</param>
internal sealed record StagePlan(
    string Name,
    int Index,
    string? GrowsFrom,
    int? ParentIndex,
    GrowthPolicy? Growth,
    LayerGrowth? LayerGrowth,
    int Layers,
    double ValueStd,
    PattentionCounts Tokens,
    PattentionTaus Tau,
    long Parameters,
    long ForwardFlopsPerToken,
    long TrainingFlopsPerToken,
    TrainingPlan? Training);

/// <param name="Tokens">Training tokens of the stage.</param>
/// <param name="Warmup">Linear warm-up as a fraction of the stage's steps, in [0, 1).</param>
/// <param name="Batch">Sequences per optimiser step.</param>
internal sealed record TrainingPlan(long Tokens, double LearningRate, double Warmup, int Batch);

/// <summary>A growth edge: <see cref="To"/> is made from a trained <see cref="From"/> by appending tokens and blocks.</summary>
/// <param name="Policy">The spec's growth policy of parameter tokens for the edge (zero_keys where none grow).</param>
/// <param name="LayerGrowth">How new blocks are made, or null when the depth does not grow.</param>
/// <param name="Changes">One row per policy, in the order of <see cref="GrowthPolicies.All"/>: what growing with it does to the function.</param>
internal sealed record GrowthEdgePlan(
    string From,
    string To,
    int FromIndex,
    int ToIndex,
    GrowthPolicy Policy,
    LayerGrowth? LayerGrowth,
    int FromLayers,
    int ToLayers,
    PattentionCounts FromTokens,
    PattentionCounts ToTokens,
    PattentionTaus FromTau,
    PattentionTaus ToTau,
    EquatableArray<PolicyChange> Changes)
{
    /// <summary>What growing with <paramref name="policy"/> does to the function.</summary>
    public FunctionChange With(GrowthPolicy policy) => Changes[GrowthPolicies.IndexOf(policy)].Change;

    /// <summary>Whether growing with the spec's policy keeps the function exactly.</summary>
    public bool PreservesFunction => With(Policy) == FunctionChange.None;
}

/// <summary>What growing an edge with <paramref name="Policy"/> does to the function (<see cref="FunctionChange.None"/>: kept exactly).</summary>
internal sealed record PolicyChange(GrowthPolicy Policy, FunctionChange Change);

/// <summary>A family's name and where it is declared, for the cross-file duplicate check.</summary>
internal sealed record FamilyIdentity(string Name, LocationInfo Location);

/// <summary>What one spec file yields: its family's identity (when its name is valid) and its plan (when error-free).</summary>
internal sealed record SpecFile(string Path, FamilyIdentity? Identity, FamilyPlan? Plan);
