using TokenformerGen.Families;
using TokenformerGen.Primitives;
using TokenformerGen.Text.Families;

namespace TokenformerGen.Declarations;

/// <summary>
/// Declares a Tokenformer model family in C#, as a <c>*.tfmodel.yaml</c> spec would: put it on a
/// top-level, non-generic <c>partial class</c> named <c>{Family}Family</c> in a namespace, with one
/// <see cref="TokenformerStageAttribute"/> per stage of the schedule. The TokenformerGen source
/// generator then adds the family's constants to that class and generates the stage models, the
/// growth edges and the registry in the class's namespace, exactly as for a YAML spec.
/// </summary>
/// <remarks>
/// <para>The family name is the class name without its <c>Family</c> suffix (<c>TinyFamily</c> → <c>Tiny</c>,
/// models <c>TinySmall</c>, …). <see cref="Tokenizer"/>, <see cref="Vocabulary"/>, <see cref="Context"/>,
/// <see cref="Layers"/>, <see cref="Hidden"/> and <see cref="Heads"/> are required; the other
/// properties are optional and default to the values documented on them (the YAML defaults).</para>
/// <para>Only arguments written in the attribute count: the generator reads the attribute's syntax,
/// not these property defaults. Mistakes are compiler diagnostics (<c>TFG…</c>) at the offending argument.</para>
/// </remarks>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class TokenformerFamilyAttribute : Attribute
{
    /// <summary>Tokenizer the family is trained with (<c>tokenizer</c>). Required.</summary>
    public TokenizerKind Tokenizer { get; set; }

    /// <summary>Vocabulary size before padding (<c>vocab.size</c>). Required.</summary>
    public int Vocabulary { get; set; }

    /// <summary>The embedding's rows are the vocabulary padded up to a multiple of this (<c>vocab.pad_to_multiple</c>). Default 1.</summary>
    public int PadToMultiple { get; set; } = 1;

    /// <summary>Context length in tokens (<c>context</c>). Required.</summary>
    public int Context { get; set; }

    /// <summary>Transformer blocks (<c>architecture.layers</c>). Required.</summary>
    public int Layers { get; set; }

    /// <summary>What the blocks project with (<c>architecture.block</c>): <see cref="BlockKind.Tokenformer"/> (default) or <see cref="BlockKind.Transformer"/>.</summary>
    public BlockKind Block { get; set; } = BlockKind.Tokenformer;

    /// <summary>A Transformer block's MLP width (<c>architecture.mlp_hidden</c>); default 4 · <see cref="Hidden"/>.</summary>
    public int MlpHidden { get; set; }

    /// <summary>Hidden size d, divisible by <see cref="Heads"/> (<c>architecture.hidden</c>). Required.</summary>
    public int Hidden { get; set; }

    /// <summary>Attention heads (<c>architecture.heads</c>). Required.</summary>
    public int Heads { get; set; }

    /// <summary>
    /// Fraction of each head's dimensions that rotary embeddings rotate; int(fraction · head_dim)
    /// must be even and 1..head_dim (<c>architecture.rotary.fraction</c>). Default 0.25.
    /// </summary>
    public double RotaryFraction { get; set; } = 0.25;

    /// <summary>Rotary base θ (<c>architecture.rotary.base</c>). Default 10000.</summary>
    public double RotaryBase { get; set; } = 10000;

    /// <summary>Pattention normalisation Θ (<c>architecture.pattention.norm</c>). Default <see cref="PattentionNorm.L2NormGelu"/>.</summary>
    public PattentionNorm Norm { get; set; } = PattentionNorm.L2NormGelu;

    /// <summary>How τ is chosen per stage (<c>architecture.pattention.tau</c>). Default <see cref="TauPolicy.SqrtN"/>.</summary>
    public TauPolicy Tau { get; set; } = TauPolicy.SqrtN;

    /// <summary>
    /// With <see cref="TauPolicy.Fixed"/>, the qkv count whose √ is a root stage's τ instead of its own
    /// (<c>architecture.pattention.tau_tokens.qkv</c>); give all three counts or none.
    /// </summary>
    public int TauQkvTokens { get; set; }

    /// <summary>The proj count of <see cref="TauQkvTokens"/> (<c>architecture.pattention.tau_tokens.proj</c>).</summary>
    public int TauProjTokens { get; set; }

    /// <summary>The ffn count of <see cref="TauQkvTokens"/> (<c>architecture.pattention.tau_tokens.ffn</c>).</summary>
    public int TauFfnTokens { get; set; }

    /// <summary>ε of the Pattention L2 norm, ≥ 0 (<c>architecture.pattention.epsilon</c>). Default 0.</summary>
    public double Epsilon { get; set; }

    /// <summary>Std of initial key tokens (<c>architecture.init.key_std</c>). Default 0.02.</summary>
    public double KeyStd { get; set; } = 0.02;

    /// <summary>Initialiser of value tokens (<c>architecture.init.value</c>). Default <see cref="ValueInitializer.Wang"/>.</summary>
    public ValueInitializer ValueInit { get; set; } = ValueInitializer.Wang;

    /// <summary>Std of initial value tokens; required with <see cref="ValueInitializer.Normal"/>, an error otherwise (<c>architecture.init.value_std</c>).</summary>
    public double ValueStd { get; set; }

    /// <summary>Std of the initial token embedding (<c>architecture.init.embedding_std</c>). Default 0.02.</summary>
    public double EmbeddingStd { get; set; } = 0.02;

    /// <summary>Whether the LM head is the token embedding; only <see langword="true"/> is supported (<c>architecture.tied_embeddings</c>).</summary>
    public bool TiedEmbeddings { get; set; } = true;
}
