namespace TokenformerGen.Generator;

/// <summary>Names of the tracked pipeline steps (tests assert their caching behaviour).</summary>
internal static class TrackingNames
{
    /// <summary>Each spec file parsed, validated and planned: <c>Result&lt;SpecFile&gt;</c>.</summary>
    public const string SpecFiles = nameof(SpecFiles);

    /// <summary>Per file: its diagnostics.</summary>
    public const string FileDiagnostics = nameof(FileDiagnostics);

    /// <summary>Per file: the family identity used for the cross-file duplicate check.</summary>
    public const string Identities = nameof(Identities);

    /// <summary>All identities: duplicate family names and their diagnostics.</summary>
    public const string DuplicateFamilies = nameof(DuplicateFamilies);

    /// <summary>Per YAML family: the plan joined with the duplicate names (input of the emitters).</summary>
    public const string Plans = nameof(Plans);

    /// <summary>Each class declaration carrying [TokenformerFamily], read, validated and planned: <c>Result&lt;SpecFile&gt;</c>.</summary>
    public const string AttributeFamilies = nameof(AttributeFamilies);

    /// <summary>Per attribute family: its diagnostics.</summary>
    public const string AttributeDiagnostics = nameof(AttributeDiagnostics);

    /// <summary>Per attribute family: its identity for the duplicate check.</summary>
    public const string AttributeIdentities = nameof(AttributeIdentities);

    /// <summary>Per attribute family: the plan joined with the duplicate names.</summary>
    public const string AttributePlans = nameof(AttributePlans);

    /// <summary>Each class declaration carrying [TokenformerStage]: diagnostics for stages that belong to no family.</summary>
    public const string StageAttributes = nameof(StageAttributes);
}
