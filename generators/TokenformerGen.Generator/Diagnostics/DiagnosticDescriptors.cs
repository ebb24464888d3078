using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace TokenformerGen.Generator.Diagnostics;

/// <summary>
/// The catalogue of every diagnostic the generator reports. IDs are stable: never renumber or
/// reuse one; add new ones to AnalyzerReleases.Unshipped.md. Ranges: TFG00xx the YAML document,
/// TFG01xx the schema's shape, TFG02xx values, TFG03xx the stage schedule, TFG04xx across files,
/// TFG05xx warnings about growth, TFG06xx misuse of the declaration attributes, TFG0999 internal errors.
/// </summary>
internal static class DiagnosticDescriptors
{
    private const string Yaml = "TokenformerGen.Yaml";
    private const string Schema = "TokenformerGen.Schema";
    private const string Model = "TokenformerGen.Model";
    private const string Schedule = "TokenformerGen.Schedule";
    private const string Attributes = "TokenformerGen.Attributes";
    private const string Internal = "TokenformerGen.Internal";

    public static readonly DiagnosticDescriptor YamlSyntaxError = new(
        id: "TFG0001",
        title: "YAML syntax error",
        messageFormat: "YAML syntax error: {0}",
        category: Yaml,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor UnsupportedYaml = new(
        id: "TFG0002",
        title: "YAML feature not supported in a spec",
        messageFormat: "{0} is not supported in a Tokenformer spec",
        category: Yaml,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor DuplicateKey = new(
        id: "TFG0003",
        title: "Duplicate key",
        messageFormat: "Key '{0}' is given more than once in this mapping (first at line {1})",
        category: Yaml,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor MissingSchema = new(
        id: "TFG0004",
        title: "Missing schema version",
        messageFormat: "The spec does not name its schema: add 'schema: tokenformer/v1'",
        category: Schema,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor UnsupportedSchema = new(
        id: "TFG0005",
        title: "Unsupported schema version",
        messageFormat: "Schema '{0}' is not supported: this generator reads 'tokenformer/v1'",
        category: Schema,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor UnreadableSpec = new(
        id: "TFG0006",
        title: "Spec file could not be read",
        messageFormat: "The spec file '{0}' could not be read",
        category: Yaml,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor UnknownKey = new(
        id: "TFG0101",
        title: "Unknown key",
        messageFormat: "Unknown key '{0}' in {1}; allowed keys: {2}",
        category: Schema,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor MissingKey = new(
        id: "TFG0102",
        title: "Missing required key",
        messageFormat: "{1} is missing the required key '{0}'",
        category: Schema,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor WrongType = new(
        id: "TFG0103",
        title: "Value of the wrong type",
        messageFormat: "{0} must be {1}, but is {2}",
        category: Schema,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor InvalidEnumValue = new(
        id: "TFG0104",
        title: "Invalid choice",
        messageFormat: "{0} must be one of {1}, but is '{2}'",
        category: Schema,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor ValueOutOfRange = new(
        id: "TFG0105",
        title: "Value out of range",
        messageFormat: "{0} is {1}, outside the supported range {2}",
        category: Schema,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor EmptyStages = new(
        id: "TFG0106",
        title: "No stages",
        messageFormat: "'stages' must list at least one stage",
        category: Schema,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor NonPositive = new(
        id: "TFG0201",
        title: "Size must be positive",
        messageFormat: "{0} must be positive, but is {1}",
        category: Model,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor HiddenNotDivisibleByHeads = new(
        id: "TFG0202",
        title: "Hidden size not divisible by heads",
        messageFormat: "Hidden size {0} is not divisible by {1} heads",
        category: Model,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor RotaryDimsOdd = new(
        id: "TFG0203",
        title: "Rotary dimensions odd",
        messageFormat: "Rotary dimensions int({0} × head_dim {1}) = {2} must be even",
        category: Model,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor RotaryDimsOutOfRange = new(
        id: "TFG0204",
        title: "Rotary dimensions out of range",
        messageFormat: "Rotary dimensions int({0} × head_dim {1}) = {2} must be between 1 and the head dimension {1}",
        category: Model,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor InvalidIdentifier = new(
        id: "TFG0205",
        title: "Invalid name",
        messageFormat: "'{0}' is not a valid {1}: {2}",
        category: Model,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor InvalidNamespace = new(
        id: "TFG0206",
        title: "Invalid namespace",
        messageFormat: "'{0}' is not a valid C# namespace: {1}",
        category: Model,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor ReservedStageName = new(
        id: "TFG0207",
        title: "Reserved stage name",
        messageFormat: "Stage name '{0}' is reserved: it would collide with a generated member of {1}",
        category: Model,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor VocabularyTooSmall = new(
        id: "TFG0208",
        title: "Vocabulary smaller than the tokenizer's",
        messageFormat: "vocab.size {0} is smaller than the {1} tokenizer's {2} tokens",
        category: Model,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor InapplicableKey = new(
        id: "TFG0209",
        title: "Key does not apply",
        messageFormat: "{0} does not apply here: {1}",
        category: Schema,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor UnsupportedValue = new(
        id: "TFG0210",
        title: "Value not supported yet",
        messageFormat: "{0}: {1} is not supported by tokenformer/v1: {2}",
        category: Model,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor DuplicateStageName = new(
        id: "TFG0301",
        title: "Duplicate stage name",
        messageFormat: "Stage name '{0}' is already used by the stage at line {1} (stage names must differ ignoring case)",
        category: Schedule,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor UnknownParentStage = new(
        id: "TFG0302",
        title: "Growth from an unknown stage",
        messageFormat: "Stage '{0}' grows from '{1}', which is not a stage of this family",
        category: Schedule,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor ParentStageNotEarlier = new(
        id: "TFG0303",
        title: "Growth from a later stage",
        messageFormat: "Stage '{0}' grows from '{1}', which comes later in the schedule; list a stage after the stage it grows from",
        category: Schedule,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor StageCycle = new(
        id: "TFG0304",
        title: "Stages grow from each other in a cycle",
        messageFormat: "Stages grow from each other in a cycle: {0}",
        category: Schedule,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor TokenCountShrinks = new(
        id: "TFG0305",
        title: "Token count shrinks",
        messageFormat: "Stage '{0}' has {1} {2} tokens, fewer than the {3} of '{4}' it grows from; growth only appends tokens",
        category: Schedule,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor FixedDimensionChanged = new(
        id: "TFG0306",
        title: "Fixed dimension changed",
        messageFormat: "Stage '{0}' sets {1} to {2}, but the family's {1} is {3}; only token counts and depth change between stages",
        category: Schedule,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor GrowthWithoutParent = new(
        id: "TFG0307",
        title: "Growth policy on a root stage",
        messageFormat: "Stage '{0}' has a growth policy but no 'from' stage to grow from",
        category: Schedule,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor LayersShrink = new(
        id: "TFG0308",
        title: "Depth shrinks",
        messageFormat: "Stage '{0}' has {1} layers, fewer than the {2} of '{3}' it grows from; growth only adds blocks",
        category: Schedule,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor MissingLayerGrowth = new(
        id: "TFG0309",
        title: "Depth grows without a layer policy",
        messageFormat: "Stage '{0}' has {1} layers, more than the {2} of '{3}' it grows from: say how its new blocks are made with growth: {{ layers: {4} }}",
        category: Schedule,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor DuplicateFamilyName = new(
        id: "TFG0401",
        title: "Duplicate family name",
        messageFormat: "Family '{0}' is also declared at {1}; family names must be unique in a project (ignoring case)",
        category: Model,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor RandomGrowthChangesFunction = new(
        id: "TFG0501",
        title: "Random growth does not preserve the function",
        messageFormat: "Growing '{0}' into '{1}' with growth: random does not preserve the function: the loss jumps at this growth (growth: zero_keys with tau: fixed preserves it)",
        category: Schedule,
        defaultSeverity: DiagnosticSeverity.Warning,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor SqrtNTauChangesFunction = new(
        id: "TFG0502",
        title: "τ = √n does not preserve the function",
        messageFormat: "Growing '{0}' into '{1}' with zero_keys under tau: sqrt_n does not preserve the function: τ changes with the token count ({2}) (tau: fixed preserves it)",
        category: Schedule,
        defaultSeverity: DiagnosticSeverity.Warning,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor SoftmaxGrowthChangesFunction = new(
        id: "TFG0503",
        title: "Softmax Pattention growth does not preserve the function",
        messageFormat: "Growing '{0}' into '{1}' with zero_keys under norm: softmax does not preserve the function: a zero score still gets softmax weight",
        category: Schedule,
        defaultSeverity: DiagnosticSeverity.Warning,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor FamilyClassNotPartial = new(
        id: "TFG0601",
        title: "Family class is not a partial class",
        messageFormat: "'{0}' carries [TokenformerFamily] but is not declared 'partial class': the generator adds the family's members to it",
        category: Attributes,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor FamilyClassNested = new(
        id: "TFG0602",
        title: "Family class is nested",
        messageFormat: "'{0}' carries [TokenformerFamily] but is nested in '{1}': declare the family on a top-level class",
        category: Attributes,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor FamilyClassGeneric = new(
        id: "TFG0603",
        title: "Family class is generic",
        messageFormat: "'{0}' carries [TokenformerFamily] but is generic: a family class cannot have type parameters",
        category: Attributes,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor FamilyClassInGlobalNamespace = new(
        id: "TFG0604",
        title: "Family class is in the global namespace",
        messageFormat: "'{0}' carries [TokenformerFamily] but is in the global namespace: the generated models go in the family class's namespace",
        category: Attributes,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor FamilyClassName = new(
        id: "TFG0605",
        title: "Family class name does not end in 'Family'",
        messageFormat: "'{0}' carries [TokenformerFamily] but its name does not end in 'Family': the class {{Name}}Family declares the family {{Name}}, so rename it '{0}Family'",
        category: Attributes,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor StageWithoutFamily = new(
        id: "TFG0606",
        title: "Stage attribute without a family attribute",
        messageFormat: "[TokenformerStage] on '{0}' declares a stage of no family: add [TokenformerFamily] to the same declaration",
        category: Attributes,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor StageOnOtherDeclaration = new(
        id: "TFG0607",
        title: "Stage attribute on another part of the family class",
        messageFormat: "[TokenformerStage] must be on the same declaration of '{0}' as [TokenformerFamily] (the stages' order is the order they are written in)",
        category: Attributes,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor InvalidAttributeArgument = new(
        id: "TFG0608",
        title: "Attribute argument is not a constant of the expected type",
        messageFormat: "The argument {0} of [{1}] must be {2}: it is not a constant of that type, so the family is not generated",
        category: Attributes,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor InternalError = new(
        id: "TFG0999",
        title: "Generator internal error",
        messageFormat: "The TokenformerGen generator failed on this input ({0}); this is a bug, please report it with the spec",
        category: Internal,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    private static readonly Dictionary<string, DiagnosticDescriptor> ByIdMap =
        typeof(DiagnosticDescriptors).GetFields()
            .Where(f => f.FieldType == typeof(DiagnosticDescriptor))
            .Select(f => (DiagnosticDescriptor)f.GetValue(null)!)
            .ToDictionary(d => d.Id);

    /// <summary>All descriptors, by ID.</summary>
    public static IReadOnlyDictionary<string, DiagnosticDescriptor> All => ByIdMap;

    public static DiagnosticDescriptor ById(string id)
        => ByIdMap.TryGetValue(id, out var descriptor) ? descriptor : InternalError;
}
