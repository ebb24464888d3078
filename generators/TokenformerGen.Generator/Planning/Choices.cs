using System.Collections.Generic;
using System.Linq;
using TokenformerGen.Declarations;
using TokenformerGen.Families;
using TokenformerGen.Primitives;

namespace TokenformerGen.Generator.Planning;

/// <summary>The YAML spellings of every choice, in one place for the reader, emitters and docs.</summary>
internal static class Choices
{
    public static readonly IReadOnlyList<KeyValuePair<string, TokenizerKind>> Tokenizers = new[]
    {
        Pair("byte", TokenizerKind.Byte), Pair("gpt2", TokenizerKind.Gpt2), Pair("neox", TokenizerKind.NeoX),
    };

    public static readonly IReadOnlyList<KeyValuePair<string, PattentionNorm>> Norms = new[]
    {
        Pair("l2_norm_gelu", PattentionNorm.L2NormGelu), Pair("gelu_l2_norm", PattentionNorm.GeluL2Norm), Pair("softmax", PattentionNorm.Softmax),
    };

    public static readonly IReadOnlyList<KeyValuePair<string, TauPolicy>> TauPolicies = new[]
    {
        Pair("sqrt_n", TauPolicy.SqrtN), Pair("fixed", TauPolicy.Fixed),
    };

    public static readonly IReadOnlyList<KeyValuePair<string, ValueInitializer>> ValueInits = new[]
    {
        Pair("wang", ValueInitializer.Wang), Pair("normal", ValueInitializer.Normal),
    };

    public static readonly IReadOnlyList<KeyValuePair<string, GrowthPolicy>> GrowthPolicies = new[]
    {
        Pair("zero_keys", GrowthPolicy.ZeroKeys), Pair("random", GrowthPolicy.Random),
    };

    public static string Name(TokenizerKind value) => NameOf(Tokenizers, value);

    public static string Name(PattentionNorm value) => NameOf(Norms, value);

    public static string Name(TauPolicy value) => NameOf(TauPolicies, value);

    public static string Name(ValueInitializer value) => NameOf(ValueInits, value);

    public static string Name(GrowthPolicy value) => NameOf(GrowthPolicies, value);

    private static string NameOf<T>(IReadOnlyList<KeyValuePair<string, T>> table, T value)
        => table.First(p => EqualityComparer<T>.Default.Equals(p.Value, value)).Key;

    private static KeyValuePair<string, T> Pair<T>(string name, T value) => new(name, value);
}
