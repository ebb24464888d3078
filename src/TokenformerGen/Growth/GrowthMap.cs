using TokenformerGen.Declarations;
using TokenformerGen.Families;

namespace TokenformerGen.Growth;

/// <summary>How the rows a growth appends to a parameter are made.</summary>
public enum NewRowInit
{
    /// <summary>The parameter does not grow: it is copied as it is.</summary>
    None,
    /// <summary>New rows are zero (key tokens under <c>zero_keys</c>).</summary>
    Zero,
    /// <summary>New rows are drawn from N(0, std²), like a from-scratch init.</summary>
    Normal,
}

/// <summary>How the appended rows of one parameter are made under one growth policy.</summary>
/// <param name="Init">Zero, normal, or none (the parameter does not grow).</param>
/// <param name="Std">The standard deviation of <see cref="NewRowInit.Normal"/> rows (0 otherwise).</param>
public readonly record struct NewRows(NewRowInit Init, double Std)
{
    /// <summary>The parameter does not grow.</summary>
    public static NewRows None => default;

    /// <summary>New rows are zero.</summary>
    public static NewRows Zero => new(NewRowInit.Zero, 0);

    /// <summary>New rows are drawn from N(0, <paramref name="std"/>²).</summary>
    public static NewRows Normal(double std) => new(NewRowInit.Normal, std);

    /// <inheritdoc/>
    public override string ToString() => Init switch
    {
        NewRowInit.None => "-",
        NewRowInit.Zero => "zero",
        _ => $"N(0, {Std:G4}²)",
    };
}

/// <summary>
/// One value per growth policy, in the order of <see cref="GrowthPolicies.All"/>: a column of a growth map's table.
/// The default holds the default value under every policy (a parameter that does not grow).
/// </summary>
public readonly struct PerPolicy<T> : IEquatable<PerPolicy<T>>
{
    private readonly T[]? _values;

    /// <summary>The values under each policy, in the order of <see cref="GrowthPolicies.All"/>.</summary>
    /// <exception cref="ArgumentException">Not one value per policy.</exception>
    public PerPolicy(params T[] values)
    {
        if (values.Length != GrowthPolicies.All.Length)
            throw new ArgumentException($"Give one value per growth policy ({string.Join(", ", GrowthPolicies.All.Select(p => p.SpecName()))}), not {values.Length}.", nameof(values));
        _values = values;
    }

    /// <summary>The value under <paramref name="policy"/>.</summary>
    public T this[GrowthPolicy policy] => _values is null ? default! : _values[GrowthPolicies.IndexOf(policy)];

    /// <inheritdoc/>
    public bool Equals(PerPolicy<T> other)
    {
        var self = this;
        return GrowthPolicies.All.All(p => EqualityComparer<T>.Default.Equals(self[p], other[p]));
    }

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is PerPolicy<T> other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var policy in GrowthPolicies.All) hash.Add(this[policy]);
        return hash.ToHashCode();
    }

    /// <summary>"zero_keys: zero, random: N(0, 0.02²)".</summary>
    public override string ToString()
    {
        var self = this;
        return string.Join(", ", GrowthPolicies.All.Select(p => $"{p.SpecName()}: {self[p]}"));
    }
}

/// <summary>One parameter of a growth edge: where it comes from, what it becomes and how its new rows are made.</summary>
/// <param name="Name">State-dict name in the grown stage.</param>
/// <param name="FromShape">Shape of its source in the trained stage; empty for a parameter of a new block (nothing is kept).</param>
/// <param name="ToShape">Shape in the grown (target) stage.</param>
/// <param name="GrowAxis">The axis that grows (0: parameter tokens, or every row of a new block's parameter), or null when the shape does not change.</param>
/// <param name="KeptRows">Rows copied from the source along <paramref name="GrowAxis"/>: all of them, first.</param>
/// <param name="NewRows">How the appended rows are made, per policy (default: none, the parameter does not grow).</param>
/// <param name="Source">The trained stage's parameter the kept rows come from when it has another name (a stacked block copies a lower one); null: the same name.</param>
public sealed record GrowthRow(string Name, long[] FromShape, long[] ToShape, int? GrowAxis, long KeptRows, PerPolicy<NewRows> NewRows = default, string? Source = null)
{
    /// <summary>Rows appended along the grow axis (0 for a parameter that does not grow).</summary>
    public long AppendedRows => GrowAxis is int axis ? ToShape[axis] - KeptRows : 0;

    /// <summary>The trained stage's parameter this one copies, or null for a parameter of a new block.</summary>
    public string? SourceName => FromShape.Length == 0 ? null : Source ?? Name;
}

/// <summary>
/// The generated table of one growth edge: every parameter of the grown stage, in state-dict order — what it keeps of
/// which trained parameter (blocks added on top copy a trained block or start new) and how its new rows are made — and,
/// per policy, whether the grown model computes exactly what the trained one did. It is what runs:
/// in-memory growth, checkpoint growth, <c>grow</c>, <c>train --from</c> and the schedule runner all
/// execute its rows (<c>TokenformerGen.Growth.StageGrowth</c>).
/// </summary>
/// <param name="From">The trained stage.</param>
/// <param name="To">The grown stage.</param>
/// <param name="PreservesFunction">Per policy, whether growing keeps the function exactly.</param>
/// <param name="Rows">One row per parameter of <paramref name="To"/>, in state-dict order.</param>
public sealed record GrowthMap(StageInfo From, StageInfo To, PerPolicy<bool> PreservesFunction, IReadOnlyList<GrowthRow> Rows)
{
    /// <summary>The policy the spec gives this edge.</summary>
    /// <remarks>A Transformer's edge grows no tokens: its rows are the same under both policies, and this says zero_keys.</remarks>
    public GrowthPolicy Policy => To.Growth ?? (To.GrowsFrom is not null ? GrowthPolicy.ZeroKeys : throw new InvalidOperationException($"{To.QualifiedName} is a root stage, not the end of a growth edge."));

    /// <summary>The row of the parameter named <paramref name="name"/>.</summary>
    public GrowthRow this[string name] => Rows.FirstOrDefault(p => p.Name == name)
        ?? throw new KeyNotFoundException($"{name} is not a parameter of {To.QualifiedName}.");
}
