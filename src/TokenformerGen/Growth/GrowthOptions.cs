namespace TokenformerGen.Growth;

/// <summary>How to initialise the rows a growth appends.</summary>
public sealed record GrowthOptions
{
    /// <summary>The policy for new rows.</summary>
    public GrowthPolicy Policy { get; init; } = GrowthPolicy.ZeroKeys;

    /// <summary>Std of random new key rows (the from-scratch key init).</summary>
    public double KeyStd { get; init; } = Primitives.Initializers.DefaultStd;

    /// <summary>Std of random new value rows; usually the "wang" std of the architecture.</summary>
    public required double ValueStd { get; init; }

    /// <summary>
    /// Makes new value rows zero as well. Combined with <see cref="GrowthPolicy.ZeroKeys"/> this is a
    /// dead saddle (neither new keys nor new values ever receive gradient), refused unless
    /// <see cref="AllowDeadSaddle"/> is set.
    /// </summary>
    public bool ZeroValues { get; init; }

    /// <summary>Accepts zero keys with zero values anyway (for experiments that want the saddle).</summary>
    public bool AllowDeadSaddle { get; init; }

    /// <summary>Seed of the generator that draws new rows.</summary>
    public long Seed { get; init; } = 1234;
}
