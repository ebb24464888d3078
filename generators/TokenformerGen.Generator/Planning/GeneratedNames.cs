using System;
using System.Collections.Generic;

namespace TokenformerGen.Generator.Planning;

/// <summary>
/// Names the generated code uses, in one place: type names and hint names derive from the family
/// and stage names, and stage names must not collide with the members generated beside them.
/// Emitters that add members to the family class add their names to <see cref="ReservedStageNames"/>.
/// </summary>
internal static class GeneratedNames
{
    /// <summary>The static class of constants: <c>{Family}Family</c>.</summary>
    public static string FamilyClass(string family) => family + "Family";

    /// <summary>Hint name of the constants file: <c>{Family}.Family.g.cs</c>.</summary>
    public static string FamilyHintName(string family) => family + ".Family.g.cs";

    /// <summary>The model class of a stage: <c>{Family}{Stage}</c>.</summary>
    public static string StageClass(string family, string stage) => family + stage;

    /// <summary>Hint name of a stage's model file: <c>{Family}.{Stage}.g.cs</c>.</summary>
    public static string StageHintName(string family, string stage) => $"{family}.{stage}.g.cs";

    /// <summary>The static class of a growth edge: <c>{Family}{From}To{To}</c>.</summary>
    public static string EdgeClass(string family, string from, string to) => $"{family}{from}To{to}";

    /// <summary>Hint name of a growth edge's file: <c>{Family}.{From}To{To}.g.cs</c>.</summary>
    public static string EdgeHintName(string family, string from, string to) => $"{family}.{from}To{to}.g.cs";

    /// <summary>Hint name of the registry file: <c>{Family}.Registry.g.cs</c>.</summary>
    public static string RegistryHintName(string family) => family + ".Registry.g.cs";

    /// <summary>
    /// Each stage becomes a nested class of the family class holding the stage's constants, so a
    /// stage may not be named like a member of the family class or of the stage class itself
    /// (CS0102 / CS0542).
    /// </summary>
    public static readonly IReadOnlyCollection<string> ReservedStageNames = new HashSet<string>(StringComparer.Ordinal)
    {
        // Members of {Family}Family.
        "Name", "Namespace", "SchemaVersion", "SourceFile", "Tokenizer", "VocabularySize", "VocabularyPadMultiple",
        "PaddedVocabularySize", "Context", "Layers", "Hidden", "Heads", "HeadDim", "RotaryFraction", "RotaryDims",
        "RotaryBase", "Norm", "Tau", "Epsilon", "KeyInitStd", "ValueInit", "ValueInitStd", "EmbeddingInitStd",
        "TiedEmbeddings", "StageCount", "StageNames", "SpecText", "SpecSha256",
        // Members of each stage class.
        "Index", "GrowsFrom", "Growth", "PreservesFunction", "QkvTokens", "ProjTokens", "FfnTokens", "QkvTau", "ProjTau",
        "FfnTau", "Parameters", "ForwardFlopsPerToken", "TrainingFlopsPerToken", "HasTrainingBudget", "TrainTokens",
        "LearningRate", "Warmup", "Batch",
        // Kept free for the module and registry emitters.
        "Stages", "Edges", "Registry", "Model", "Block", "Attention",
        // Members the registry emitter adds to {Family}Family.
        "Architecture", "Registration", "Register",
    };
}
