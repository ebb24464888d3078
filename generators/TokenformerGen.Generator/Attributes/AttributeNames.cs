using System.Collections.Generic;
using Microsoft.CodeAnalysis;
using TokenformerGen.Declarations;
using TokenformerGen.Families;
using TokenformerGen.Generator.Planning;
using TokenformerGen.Primitives;

namespace TokenformerGen.Generator.Attributes;

/// <summary>
/// The declaration attributes of the runtime library (<c>TokenformerGen.Declarations</c>) as the
/// generator knows them: their metadata names, and which attribute argument writes each YAML path (for
/// messages). Enum arguments are read through <c>SpecChoices</c>, the one table of every choice's values.
/// </summary>
internal static class AttributeNames
{
    public const string Family = "TokenformerGen.Declarations.TokenformerFamilyAttribute";
    public const string Stage = "TokenformerGen.Declarations.TokenformerStageAttribute";

    public const string FamilyShort = "TokenformerFamily";
    public const string StageShort = "TokenformerStage";

    /// <summary>The class <c>{Name}Family</c> declares the family <c>{Name}</c>.</summary>
    public const string ClassSuffix = "Family";

    /// <summary>YAML path → family attribute argument, for messages the shared validator words with paths.</summary>
    private static readonly Dictionary<string, string> FamilyArguments = new()
    {
        ["tokenizer"] = "Tokenizer",
        ["vocab.size"] = "Vocabulary",
        ["vocab.pad_to_multiple"] = "PadToMultiple",
        ["context"] = "Context",
        ["architecture.block"] = "Block",
        ["architecture.layers"] = "Layers",
        ["architecture.mlp_hidden"] = "MlpHidden",
        ["architecture.hidden"] = "Hidden",
        ["architecture.heads"] = "Heads",
        ["architecture.rotary.fraction"] = "RotaryFraction",
        ["architecture.rotary.base"] = "RotaryBase",
        ["architecture.pattention.norm"] = "Norm",
        ["architecture.pattention.tau"] = "Tau",
        ["architecture.pattention.tau_tokens.qkv"] = "TauQkvTokens",
        ["architecture.pattention.tau_tokens.proj"] = "TauProjTokens",
        ["architecture.pattention.tau_tokens.ffn"] = "TauFfnTokens",
        ["architecture.pattention.epsilon"] = "Epsilon",
        ["architecture.init.key_std"] = "KeyStd",
        ["architecture.init.value"] = "ValueInit",
        ["architecture.init.value_std"] = "ValueStd",
        ["architecture.init.embedding_std"] = "EmbeddingStd",
        ["architecture.tied_embeddings"] = "TiedEmbeddings",
    };

    /// <summary>YAML path inside a stage → stage attribute argument.</summary>
    private static readonly Dictionary<string, string> StageArguments = new()
    {
        ["name"] = "name",
        ["from"] = "From",
        ["growth"] = "Growth",
        ["growth.tokens"] = "Growth",
        ["growth.layers"] = "LayerGrowth",
        ["layers"] = "Layers",
        ["tokens.qkv"] = "Qkv",
        ["tokens.proj"] = "Proj",
        ["tokens.ffn"] = "Ffn",
        ["train.tokens"] = "TrainTokens",
        ["train.learning_rate"] = "LearningRate",
        ["train.warmup"] = "Warmup",
        ["train.batch"] = "Batch",
    };

    /// <summary>
    /// Names a value by its attribute argument: <c>architecture.heads</c> → <c>Heads</c>,
    /// <c>stages[1].tokens.qkv</c> → <c>Qkv of stage 'Medium'</c>. Unknown paths are returned as they are.
    /// </summary>
    public static string DescribePath(string path, IReadOnlyList<string?> stageNames)
    {
        if (FamilyArguments.TryGetValue(path, out var argument))
        {
            return argument;
        }

        const string prefix = "stages[";
        var close = path.IndexOf("].", System.StringComparison.Ordinal);
        if (path.StartsWith(prefix, System.StringComparison.Ordinal) && close > prefix.Length
            && int.TryParse(path.Substring(prefix.Length, close - prefix.Length), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var index)
            && StageArguments.TryGetValue(path.Substring(close + 2), out var stageArgument))
        {
            var name = index < stageNames.Count ? stageNames[index] : null;
            return name is null ? $"{stageArgument} of stage attribute {index + 1}" : $"{stageArgument} of stage '{name}'";
        }

        return path;
    }

    public static bool Is(AttributeData attribute, string metadataName)
        => attribute.AttributeClass is { } type && type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat) == "global::" + metadataName;
}
