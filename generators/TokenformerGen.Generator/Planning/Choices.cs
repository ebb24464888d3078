using System.Collections.Generic;
using System.Linq;

namespace TokenformerGen.Generator.Planning;

/// <summary>Tokenizer the family is trained with (<c>tokenizer:</c>).</summary>
internal enum TokenizerKind
{
    /// <summary><c>byte</c>: the 256 byte values.</summary>
    Byte,

    /// <summary><c>gpt2</c>: GPT-2 BPE, 50257 tokens.</summary>
    Gpt2,

    /// <summary><c>neox</c>: a user-supplied GPT-NeoX <c>tokenizer.json</c> at run time.</summary>
    Neox,
}

/// <summary>Pattention's normalisation Θ (<c>architecture.pattention.norm</c>).</summary>
internal enum PattentionNorm
{
    /// <summary><c>l2_norm_gelu</c>: <c>gelu(A / ‖A‖₂ · τ)</c> (every released model).</summary>
    L2NormGelu,

    /// <summary><c>gelu_l2_norm</c>: <c>g = gelu(A); g / ‖g‖₂ · τ</c>.</summary>
    GeluL2Norm,

    /// <summary><c>softmax</c>: <c>softmax(A) · n</c>.</summary>
    Softmax,
}

/// <summary>How τ is chosen per stage (<c>architecture.pattention.tau</c>).</summary>
internal enum TauPolicy
{
    /// <summary><c>sqrt_n</c>: τ = √n of the stage's own token count (official; growth changes the function).</summary>
    SqrtN,

    /// <summary><c>fixed</c>: a zero_keys stage keeps its parent's τ, so growth preserves the function.</summary>
    Fixed,
}

/// <summary>Initialiser of the value tokens (<c>architecture.init.value</c>).</summary>
internal enum ValueInit
{
    /// <summary><c>wang</c>: N(0, 2 / (L·√d)) (GPT-NeoX's wang_init; the official choice).</summary>
    Wang,

    /// <summary><c>normal</c>: N(0, value_std).</summary>
    Normal,
}

/// <summary>How a stage's new parameter-token rows are initialised (<c>stages[].growth</c>).</summary>
internal enum GrowthPolicy
{
    /// <summary><c>zero_keys</c>: new key rows zero, new value rows random (preserves the function with τ fixed).</summary>
    ZeroKeys,

    /// <summary><c>random</c>: new rows initialised as from scratch (the official code).</summary>
    Random,
}

/// <summary>The YAML spellings of every choice, in one place for the reader, emitters and docs.</summary>
internal static class Choices
{
    public static readonly IReadOnlyList<KeyValuePair<string, TokenizerKind>> Tokenizers = new[]
    {
        Pair("byte", TokenizerKind.Byte), Pair("gpt2", TokenizerKind.Gpt2), Pair("neox", TokenizerKind.Neox),
    };

    public static readonly IReadOnlyList<KeyValuePair<string, PattentionNorm>> Norms = new[]
    {
        Pair("l2_norm_gelu", PattentionNorm.L2NormGelu), Pair("gelu_l2_norm", PattentionNorm.GeluL2Norm), Pair("softmax", PattentionNorm.Softmax),
    };

    public static readonly IReadOnlyList<KeyValuePair<string, TauPolicy>> TauPolicies = new[]
    {
        Pair("sqrt_n", TauPolicy.SqrtN), Pair("fixed", TauPolicy.Fixed),
    };

    public static readonly IReadOnlyList<KeyValuePair<string, ValueInit>> ValueInits = new[]
    {
        Pair("wang", ValueInit.Wang), Pair("normal", ValueInit.Normal),
    };

    public static readonly IReadOnlyList<KeyValuePair<string, GrowthPolicy>> GrowthPolicies = new[]
    {
        Pair("zero_keys", GrowthPolicy.ZeroKeys), Pair("random", GrowthPolicy.Random),
    };

    public static string Name(TokenizerKind value) => NameOf(Tokenizers, value);

    public static string Name(PattentionNorm value) => NameOf(Norms, value);

    public static string Name(TauPolicy value) => NameOf(TauPolicies, value);

    public static string Name(ValueInit value) => NameOf(ValueInits, value);

    public static string Name(GrowthPolicy value) => NameOf(GrowthPolicies, value);

    private static string NameOf<T>(IReadOnlyList<KeyValuePair<string, T>> table, T value)
        => table.First(p => EqualityComparer<T>.Default.Equals(p.Value, value)).Key;

    private static KeyValuePair<string, T> Pair<T>(string name, T value) => new(name, value);
}
