using TokenformerGen.Primitives;
using static TorchSharp.torch;

namespace TokenformerGen.Growth;

/// <summary>
/// Growth at the tensor level: a Pattention grows by appending rows (parameter tokens) to its key
/// tokens <c>[n, d_in]</c> and value tokens <c>[n, d_out]</c>; nothing else changes shape.
/// </summary>
public static class ParameterGrowth
{
    /// <summary>State-dict suffix of key parameter tokens.</summary>
    public const string KeySuffix = "key_param_tokens";

    /// <summary>State-dict suffix of value parameter tokens.</summary>
    public const string ValueSuffix = "value_param_tokens";

    /// <summary>
    /// Returns <paramref name="source"/> grown along axis 0 to <paramref name="targetShape"/>: the old
    /// rows copied, new rows zero (<paramref name="newRowStd"/> = 0) or N(0, std²). Random rows come
    /// from a generator seeded by <paramref name="seed"/> and the tensor's name, so a tensor grows the
    /// same whatever order tensors are visited in (in memory or streamed between checkpoints).
    /// Throws <see cref="GrowthException"/> naming <paramref name="name"/> and both shapes for a shrink
    /// or a change of any other axis.
    /// </summary>
    public static Tensor AppendRows(string name, Tensor source, long[] targetShape, double newRowStd, long seed)
    {
        CheckGrowsAlongRows(name, source.shape, targetShape);
        using var _ = no_grad();
        var grown = zeros(targetShape, source.dtype, source.device);
        var oldRows = source.shape[0];
        // The views are disposed at once: an undisposed view keeps the grown tensor's storage alive
        // until the GC finalizes it, so streamed growth held every grown tensor at the same time.
        using (var kept = grown.narrow(0, 0, oldRows)) kept.copy_(source);
        if (newRowStd > 0 && targetShape[0] > oldRows)
        {
            using var generator = new Generator(SeedFor(name, seed));
            using var appended = grown.narrow(0, oldRows, targetShape[0] - oldRows);
            appended.normal_(0, newRowStd, generator);
        }
        return grown;
    }

    /// <summary>A per-tensor seed: FNV-1a of the name mixed with <paramref name="seed"/>.</summary>
    public static ulong SeedFor(string name, long seed)
    {
        var hash = 14695981039346656037UL ^ (ulong)seed;
        foreach (var b in System.Text.Encoding.UTF8.GetBytes(name)) hash = (hash ^ b) * 1099511628211UL;
        return hash;
    }

    /// <summary>Throws unless <paramref name="target"/> equals <paramref name="source"/> but for a larger or equal axis 0.</summary>
    public static void CheckGrowsAlongRows(string name, long[] source, long[] target)
    {
        if (source.Length != target.Length)
            throw new GrowthException($"{name}: cannot grow {Shapes.Format(source)} into {Shapes.Format(target)}: the ranks differ.");
        for (var axis = 1; axis < source.Length; axis++)
        {
            if (source[axis] != target[axis])
                throw new GrowthException($"{name}: cannot grow {Shapes.Format(source)} into {Shapes.Format(target)}: only axis 0 (parameter tokens) may grow, axis {axis} differs.");
        }
        if (source.Length == 0 || target[0] < source[0])
            throw new GrowthException($"{name}: cannot shrink {Shapes.Format(source)} to {Shapes.Format(target)}: growth only appends parameter tokens.");
    }

    /// <summary>Std of the new rows of a tensor named <paramref name="name"/> under <paramref name="options"/>; 0 = zero rows.</summary>
    public static double NewRowStd(string name, GrowthOptions options)
    {
        CheckNotDeadSaddle(options);
        if (name.EndsWith(KeySuffix, StringComparison.Ordinal))
            return options.Policy == GrowthPolicy.ZeroKeys ? 0 : options.KeyStd;
        if (name.EndsWith(ValueSuffix, StringComparison.Ordinal))
            return options.ZeroValues ? 0 : options.ValueStd;
        throw new GrowthException($"{name}: only Pattention key and value tokens can grow.");
    }

    /// <summary>Refuses zero new keys with zero new values unless explicitly allowed.</summary>
    public static void CheckNotDeadSaddle(GrowthOptions options)
    {
        if (options.Policy == GrowthPolicy.ZeroKeys && options.ZeroValues && !options.AllowDeadSaddle)
            throw new GrowthException("Zero new keys with zero new values is a dead saddle: neither ever receives a gradient. Set AllowDeadSaddle to force it.");
    }

    /// <summary>
    /// Copies the trained <paramref name="source"/> into the larger <paramref name="target"/>,
    /// initialising the appended tokens by <paramref name="options"/>.
    /// </summary>
    public static void GrowInto(Pattention target, Pattention source, string name, GrowthOptions options)
    {
        using var _ = no_grad();
        using var keys = AppendRows($"{name}.{KeySuffix}", source.Keys, target.Keys.shape, NewRowStd(KeySuffix, options), options.Seed);
        using var values = AppendRows($"{name}.{ValueSuffix}", source.Values, target.Values.shape, NewRowStd(ValueSuffix, options), options.Seed);
        target.Keys.copy_(keys);
        target.Values.copy_(values);
    }
}
