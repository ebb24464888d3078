using TokenformerGen.Growth;

namespace TokenformerGen.Families;

/// <summary>How the rows a growth appends to a parameter are initialised.</summary>
public enum NewRowInit
{
    /// <summary>The parameter does not grow: it is copied as is.</summary>
    None,
    /// <summary>New rows are zero (key tokens under <c>zero_keys</c>).</summary>
    Zero,
    /// <summary>New rows are drawn like a from-scratch init.</summary>
    Random,
}

/// <summary>One parameter of a growth edge: its shape in both stages and how it grows.</summary>
/// <param name="Name">State-dict name.</param>
/// <param name="FromShape">Shape in the source stage.</param>
/// <param name="ToShape">Shape in the target stage.</param>
/// <param name="GrowAxis">The axis that grows (0 for parameter tokens), or null when the shape is unchanged.</param>
/// <param name="KeptRows">Rows copied from the source along <paramref name="GrowAxis"/> (all of them).</param>
/// <param name="Init">How the appended rows are initialised.</param>
/// <param name="InitStd">Std of random new rows (0 otherwise).</param>
public sealed record ParameterExpansion(string Name, long[] FromShape, long[] ToShape, int? GrowAxis, long KeptRows, NewRowInit Init, double InitStd)
{
    /// <summary>Rows appended along the grow axis.</summary>
    public long NewRows => GrowAxis is int axis ? ToShape[axis] - FromShape[axis] : 0;
}

/// <summary>The complete, ordered table of how every parameter of one stage grows into the next.</summary>
/// <param name="From">Source stage.</param>
/// <param name="To">Target stage.</param>
/// <param name="Parameters">One row per parameter of the target stage, in state-dict order.</param>
public sealed record ExpansionMap(StageInfo From, StageInfo To, IReadOnlyList<ParameterExpansion> Parameters)
{
    /// <summary>The growth the spec asks for: its policy, the architecture's init stds, a fixed seed.</summary>
    public GrowthOptions DefaultOptions => new()
    {
        Policy = To.Growth ?? GrowthPolicy.ZeroKeys,
        KeyStd = To.Architecture.KeyStd,
        ValueStd = To.Architecture.ValueStd,
    };

    /// <summary>
    /// Refuses a source or target whose parameters are not exactly the map's (name and shape), listing
    /// every difference at once.
    /// </summary>
    public void Verify(IReadOnlyList<KeyValuePair<string, long[]>> source, IReadOnlyList<KeyValuePair<string, long[]>> target)
    {
        var problems = new List<string>();
        void Compare(string side, IReadOnlyList<KeyValuePair<string, long[]>> actual, Func<ParameterExpansion, long[]> expectedShape)
        {
            var actualShapes = actual.ToDictionary(p => p.Key, p => p.Value);
            foreach (var row in Parameters)
            {
                if (!actualShapes.TryGetValue(row.Name, out var shape)) problems.Add($"{row.Name}: missing from the {side}.");
                else if (!shape.SequenceEqual(expectedShape(row))) problems.Add($"{row.Name}: the {side} has {Shapes.Format(shape)}, the map expects {Shapes.Format(expectedShape(row))}.");
            }
            var known = Parameters.Select(p => p.Name).ToHashSet();
            problems.AddRange(actual.Where(p => !known.Contains(p.Key)).Select(p => $"{p.Key}: in the {side} but not in the map."));
        }
        Compare($"source ({From.QualifiedName})", source, row => row.FromShape);
        Compare($"target ({To.QualifiedName})", target, row => row.ToShape);
        if (problems.Count > 0)
            throw new GrowthException($"{From.QualifiedName} → {To.QualifiedName}: {problems.Count} parameter(s) do not match the expansion map:{Environment.NewLine}{string.Join(Environment.NewLine, problems)}");
    }

    /// <summary>The row of the parameter named <paramref name="name"/>.</summary>
    public ParameterExpansion this[string name] => Parameters.FirstOrDefault(p => p.Name == name)
        ?? throw new KeyNotFoundException($"{name} is not a parameter of {To.QualifiedName}.");
}
