// Shared verbatim with the source generator (linked into generators/). Keep it plain C# that compiles for netstandard2.0.
using System;
using System.Collections.Generic;
using System.Linq;
using TokenformerGen.Families;
using TokenformerGen.Primitives;
using TokenformerGen.Text.Families;

namespace TokenformerGen.Declarations;

/// <summary>
/// A choice of the spec format: the spellings a spec may write and the value each means. The one table the YAML reader,
/// the attribute reader (whose enum members are the values), diagnostics, generated code, the runtime's names, the
/// official config, the command line and the JSON Schema (tested equal) take their spellings from.
/// </summary>
/// <typeparam name="T">The enum the choice reads into.</typeparam>
public sealed class SpecChoice<T>
    where T : struct
{
    private readonly KeyValuePair<string, T>[] _spellings;

    internal SpecChoice(string key, params KeyValuePair<string, T>[] spellings) => (Key, _spellings) = (key, spellings);

    /// <summary>Where a spec sets it, e.g. <c>architecture.pattention.norm</c>.</summary>
    public string Key { get; }

    /// <summary>Every spelling with its value, in the order documents list them.</summary>
    public IReadOnlyList<KeyValuePair<string, T>> Spellings => _spellings;

    /// <summary>The spellings alone.</summary>
    public IEnumerable<string> Names => _spellings.Select(s => s.Key);

    /// <summary>How a spec spells <paramref name="value"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value with no spelling.</exception>
    public string NameOf(T value)
    {
        foreach (var spelling in _spellings)
        {
            if (EqualityComparer<T>.Default.Equals(spelling.Value, value)) return spelling.Key;
        }
        throw new ArgumentOutOfRangeException(nameof(value), value, $"{Key} has no spelling for it.");
    }

    /// <summary>The value <paramref name="name"/> spells, compared exactly as a spec must write it.</summary>
    public bool TryParse(string name, out T value)
    {
        foreach (var spelling in _spellings)
        {
            if (spelling.Key == name)
            {
                value = spelling.Value;
                return true;
            }
        }
        value = default;
        return false;
    }

    /// <summary>The spellings joined by <paramref name="separator"/>: <c>zero_keys|random</c>, <c>zero_keys, random</c>.</summary>
    public string Join(string separator) => string.Join(separator, Names);
}

/// <summary>The choices of the spec format, each spelled once.</summary>
public static class SpecChoices
{
    /// <summary><c>tokenizer</c>: <c>byte</c>, <c>gpt2</c> or <c>neox</c>.</summary>
    public static readonly SpecChoice<TokenizerKind> Tokenizer = new(
        "tokenizer", Spell("byte", TokenizerKind.Byte), Spell("gpt2", TokenizerKind.Gpt2), Spell("neox", TokenizerKind.NeoX));

    /// <summary><c>architecture.pattention.norm</c>, the Pattention normalisation Θ, spelled as the official config's <c>norm_activation_type</c>.</summary>
    public static readonly SpecChoice<PattentionNorm> Norm = new(
        "architecture.pattention.norm",
        Spell("l2_norm_gelu", PattentionNorm.L2NormGelu), Spell("gelu_l2_norm", PattentionNorm.GeluL2Norm), Spell("softmax", PattentionNorm.Softmax));

    /// <summary><c>architecture.pattention.tau</c>: <c>sqrt_n</c> or <c>fixed</c>.</summary>
    public static readonly SpecChoice<TauPolicy> Tau = new(
        "architecture.pattention.tau", Spell("sqrt_n", TauPolicy.SqrtN), Spell("fixed", TauPolicy.Fixed));

    /// <summary><c>architecture.init.value</c>: <c>wang</c> or <c>normal</c>.</summary>
    public static readonly SpecChoice<ValueInitializer> ValueInit = new(
        "architecture.init.value", Spell("wang", ValueInitializer.Wang), Spell("normal", ValueInitializer.Normal));

    /// <summary><c>stages[].growth</c> (or <c>stages[].growth.tokens</c>): <c>zero_keys</c> or <c>random</c>.</summary>
    public static readonly SpecChoice<GrowthPolicy> Growth = new(
        "stages[].growth", Spell("zero_keys", GrowthPolicy.ZeroKeys), Spell("random", GrowthPolicy.Random));

    /// <summary><c>architecture.block</c>: <c>tokenformer</c> or <c>transformer</c>.</summary>
    public static readonly SpecChoice<BlockKind> Block = new(
        "architecture.block", Spell("tokenformer", BlockKind.Tokenformer), Spell("transformer", BlockKind.Transformer));

    /// <summary><c>stages[].growth.layers</c>: <c>identity</c> or <c>stack</c>.</summary>
    public static readonly SpecChoice<LayerGrowth> LayerGrowth = new(
        "stages[].growth.layers", Spell("identity", Families.LayerGrowth.Identity), Spell("stack", Families.LayerGrowth.Stack));

    /// <summary>How a spec spells <paramref name="tokenizer"/>.</summary>
    public static string SpecName(this TokenizerKind tokenizer) => Tokenizer.NameOf(tokenizer);

    /// <summary>How a spec (and the official config) spells <paramref name="norm"/>.</summary>
    public static string SpecName(this PattentionNorm norm) => Norm.NameOf(norm);

    /// <summary>How a spec spells <paramref name="tau"/>.</summary>
    public static string SpecName(this TauPolicy tau) => Tau.NameOf(tau);

    /// <summary>How a spec spells <paramref name="init"/>.</summary>
    public static string SpecName(this ValueInitializer init) => ValueInit.NameOf(init);

    /// <summary>How a spec spells <paramref name="policy"/>.</summary>
    public static string SpecName(this GrowthPolicy policy) => Growth.NameOf(policy);

    /// <summary>How a spec spells <paramref name="block"/>.</summary>
    public static string SpecName(this BlockKind block) => Block.NameOf(block);

    /// <summary>How a spec spells <paramref name="growth"/>.</summary>
    public static string SpecName(this LayerGrowth growth) => LayerGrowth.NameOf(growth);

    private static KeyValuePair<string, T> Spell<T>(string name, T value) => new(name, value);
}
