using System;
using System.Collections.Generic;
using TokenformerGen.Declarations;
using TokenformerGen.Families;
using TokenformerGen.Generator.Planning;
using TokenformerGen.Generator.Plumbing;
using TokenformerGen.Primitives;
using TokenformerGen.Text.Families;

namespace TokenformerGen.Generator.Parsing;

/// <summary>A value read from the spec and where it was written (defaults point at their mapping).</summary>
internal readonly record struct Located<T>(T Value, SourceRange Range);

// The raw spec: what the file says, shaped by the schema but not yet checked for meaning. A field is
// null when the key was missing or its value mistyped (already reported). Lives only inside one
// pipeline step, never cached.

internal sealed class RawFamilySpec
{
    public SourceRange Range { get; set; }

    /// <summary>
    /// How messages name a value given its YAML path (<c>architecture.heads</c>): the path itself for
    /// a YAML spec, the attribute argument for a family declared with attributes.
    /// </summary>
    public Func<string, string> DescribePath { get; set; } = static path => path;

    public Located<string>? Family { get; set; }

    public Located<string>? Namespace { get; set; }

    public Located<TokenizerKind>? Tokenizer { get; set; }

    public RawVocab? Vocab { get; set; }

    public Located<long>? Context { get; set; }

    public RawArchitecture? Architecture { get; set; }

    public List<RawStage> Stages { get; } = new();
}

internal sealed class RawVocab
{
    public SourceRange Range { get; set; }

    public Located<long>? Size { get; set; }

    public Located<long>? PadToMultiple { get; set; }
}

internal sealed class RawArchitecture
{
    public SourceRange Range { get; set; }

    public Located<BlockKind>? Block { get; set; }

    public Located<long>? Layers { get; set; }

    public Located<long>? Hidden { get; set; }

    public Located<long>? Heads { get; set; }

    /// <summary>A Transformer's MLP width; null for a Tokenformer, or when not given (4 · hidden).</summary>
    public Located<long>? MlpHidden { get; set; }

    public Located<double>? RotaryFraction { get; set; }

    public Located<double>? RotaryBase { get; set; }

    public Located<PattentionNorm>? Norm { get; set; }

    public Located<TauPolicy>? Tau { get; set; }

    /// <summary>The counts whose √ is a root stage's τ with <c>tau: fixed</c> (<c>pattention.tau_tokens</c>); null: its own.</summary>
    public Located<long>? TauQkv { get; set; }

    public Located<long>? TauProj { get; set; }

    public Located<long>? TauFfn { get; set; }

    public Located<double>? Epsilon { get; set; }

    public Located<double>? KeyStd { get; set; }

    public Located<ValueInitializer>? ValueInit { get; set; }

    public Located<double>? ValueStd { get; set; }

    public Located<double>? EmbeddingStd { get; set; }

    public Located<bool>? TiedEmbeddings { get; set; }
}

internal sealed class RawStage
{
    public int Index { get; set; }

    public SourceRange Range { get; set; }

    public Located<string>? Name { get; set; }

    public Located<string>? From { get; set; }

    /// <summary>The growth policy of parameter tokens: <c>growth: P</c> or <c>growth: { tokens: P }</c>.</summary>
    public Located<GrowthPolicy>? Growth { get; set; }

    /// <summary>How new blocks are made: <c>growth: { layers: L }</c>.</summary>
    public Located<LayerGrowth>? LayerGrowth { get; set; }

    /// <summary>Where the stage's <c>growth</c> is written (either form).</summary>
    public SourceRange? GrowthRange { get; set; }

    public Located<long>? Qkv { get; set; }

    public Located<long>? Proj { get; set; }

    public Located<long>? Ffn { get; set; }

    public RawTrain? Train { get; set; }

    public Located<long>? Layers { get; set; }

    public Located<long>? Hidden { get; set; }

    public Located<long>? Heads { get; set; }

    public RawVocab? Vocab { get; set; }

    /// <summary>How messages name this stage: <c>stages[1] ('Medium')</c>.</summary>
    public string Label => Name is { } name ? $"stages[{Index}] ('{name.Value}')" : $"stages[{Index}]";
}

internal sealed class RawTrain
{
    public Located<long>? Tokens { get; set; }

    public Located<double>? LearningRate { get; set; }

    public Located<double>? Warmup { get; set; }

    public Located<long>? Batch { get; set; }
}
