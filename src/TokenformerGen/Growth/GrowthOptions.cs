using TokenformerGen.Families;

namespace TokenformerGen.Growth;

/// <summary>
/// What a caller may choose about a growth, within what the edge's <see cref="GrowthMap"/> allows: which of
/// the map's policies to run, the seed of new random rows, and zero new value rows.
/// </summary>
public sealed record GrowthOptions
{
    /// <summary>The policy whose rows to run; null runs the spec's (<see cref="GrowthMap.Policy"/>).</summary>
    public GrowthPolicy? Policy { get; init; }

    /// <summary>Seed of the draws of new random rows (each tensor draws from its own generator, see <see cref="NewRowDraws"/>).</summary>
    public long Seed { get; init; } = 1234;

    /// <summary>
    /// Makes new value rows zero instead of random. Combined with <see cref="GrowthPolicy.ZeroKeys"/> this is a
    /// dead saddle (neither new keys nor new values ever receive gradient), refused unless
    /// <see cref="AllowDeadSaddle"/> is set.
    /// </summary>
    public bool ZeroValues { get; init; }

    /// <summary>Accepts zero keys with zero values anyway (for experiments that want the saddle).</summary>
    public bool AllowDeadSaddle { get; init; }

    /// <summary>The policy that runs on <paramref name="map"/>.</summary>
    public GrowthPolicy PolicyFor(GrowthMap map) => Policy ?? map.Policy;

    /// <summary>How the new rows of <paramref name="row"/> are made under these options.</summary>
    /// <exception cref="GrowthException">Zero keys with zero values without <see cref="AllowDeadSaddle"/>.</exception>
    public NewRows NewRowsOf(GrowthMap map, GrowthRow row)
    {
        var policy = PolicyFor(map);
        if (policy.ZeroesNewKeys() && ZeroValues && !AllowDeadSaddle)
            throw new GrowthException("Zero new keys with zero new values is a dead saddle: neither ever receives a gradient. Set AllowDeadSaddle to force it.");
        var rows = row.NewRows[policy];
        var isValueRow = Architecture.ParameterNames.RoleOf(row.Name) == Architecture.ParameterRole.ValueTokens;
        return ZeroValues && isValueRow && rows.Init == NewRowInit.Normal ? NewRows.Zero : rows;
    }
}
