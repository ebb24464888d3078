using System.Collections.Concurrent;
using TokenformerGen.Families;
using TokenformerGen.Growth;

namespace TokenformerGen.Modules;

/// <summary>A stage a host can instantiate by name.</summary>
/// <param name="Info">What the stage is.</param>
/// <param name="Create">Creates an uninitialised (zero) model of the stage.</param>
public sealed record StageRegistration(StageInfo Info, Func<TokenformerModel> Create);

/// <summary>A family as the generator registered it.</summary>
/// <param name="Name">Family name.</param>
/// <param name="SpecHash">SHA-256 of the spec text.</param>
/// <param name="SpecText">The spec text the family was generated from.</param>
/// <param name="Stages">The schedule, in order.</param>
/// <param name="Edges">One growth map per growth edge.</param>
public sealed record FamilyRegistration(string Name, string SpecHash, string SpecText,
                                        IReadOnlyList<StageRegistration> Stages, IReadOnlyList<GrowthMap> Edges)
{
    /// <summary>The stage named <paramref name="stage"/>; for a single-stage family, null picks the only stage.</summary>
    public StageRegistration Stage(string? stage)
    {
        if (stage is null)
        {
            return Stages.Count == 1 ? Stages[0]
                : throw new ArgumentException($"Family {Name} has {Stages.Count} stages ({string.Join(", ", Stages.Select(s => s.Info.Name))}): name one.");
        }
        return Stages.FirstOrDefault(s => string.Equals(s.Info.Name, stage, StringComparison.OrdinalIgnoreCase))
            ?? throw new ArgumentException($"Family {Name} has no stage '{stage}' (stages: {string.Join(", ", Stages.Select(s => s.Info.Name))}).");
    }

    /// <summary>The growth edge into <paramref name="stage"/>, or null for a root stage.</summary>
    public GrowthMap? EdgeInto(string stage) => Edges.FirstOrDefault(e => e.To.Name == stage);
}

/// <summary>
/// Every family compiled into the running application. Generated code registers each family from a
/// module initializer, so hosts and tools can list and instantiate them by name.
/// </summary>
public static class ModelRegistry
{
    private static readonly ConcurrentDictionary<string, FamilyRegistration> Registered = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Adds a family (generated code calls this; a second registration of a name replaces the first).</summary>
    public static void Register(FamilyRegistration family) => Registered[family.Name] = family;

    /// <summary>All registered families, by name.</summary>
    public static IReadOnlyList<FamilyRegistration> Families => Registered.Values.OrderBy(f => f.Name, StringComparer.Ordinal).ToList();

    /// <summary>The family named <paramref name="name"/> (case-insensitive).</summary>
    public static FamilyRegistration Family(string name)
        => Registered.TryGetValue(name, out var family) ? family
            : throw new ArgumentException($"Unknown family '{name}' (known: {string.Join(", ", Families.Select(f => f.Name))}).");
}
