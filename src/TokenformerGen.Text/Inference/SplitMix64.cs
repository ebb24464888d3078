namespace TokenformerGen.Text.Inference;

/// <summary>
/// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014; the constants of
/// Vigna's reference <c>splitmix64.c</c>): a 64-bit counter stepped by the golden-ratio odd constant and mixed into each
/// output. Ours rather than <see cref="System.Random"/> or a torch generator, whose sequences may change between versions,
/// so that a seed draws the same numbers forever, on every device and engine.
/// </summary>
internal sealed class SplitMix64(ulong seed)
{
    private ulong _state = seed;

    /// <summary>The next 64 random bits.</summary>
    public ulong Next()
    {
        var z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A double in [0, 1): the top 53 bits of <see cref="Next"/>, each value a multiple of 2⁻⁵³.</summary>
    public double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));
}
