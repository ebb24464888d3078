using TokenformerGen.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace TokenformerGen.Primitives;

/// <summary>
/// GPT-NeoX partial rotary position embedding: the first <see cref="Dimensions"/> dims of each
/// head are rotated (rotate-half style, <c>cat(-x2, x1)</c>), the rest pass through unchanged.
/// </summary>
public sealed class RotaryEmbedding
{
    /// <summary>Creates the embedding for heads of <paramref name="headDim"/> dims.</summary>
    /// <param name="headDim">Dims per attention head.</param>
    /// <param name="fraction">Share of each head that is rotated: <c>int(fraction · headDim)</c> dims (official 0.25).</param>
    /// <param name="theta">The frequency base (official 10000).</param>
    public RotaryEmbedding(long headDim, double fraction = 0.25, double theta = 10000)
    {
        var dims = (long)(fraction * headDim);
        if (dims <= 0 || dims > headDim || dims % 2 != 0)
            throw new ArgumentOutOfRangeException(nameof(fraction), $"Rotary dims int({fraction} · {headDim}) = {dims} must be even and in 1..{headDim}.");
        HeadDim = headDim;
        Dimensions = dims;
        Theta = theta;
    }

    /// <summary>Dims per head.</summary>
    public long HeadDim { get; }

    /// <summary>Rotated dims per head (even).</summary>
    public long Dimensions { get; }

    /// <summary>The frequency base.</summary>
    public double Theta { get; }

    /// <summary>
    /// Rotates <paramref name="x"/> <c>[batch, heads, T, headDim]</c> for positions
    /// <c>offset .. offset + T - 1</c> (the offset is the KV-cache length when decoding).
    /// </summary>
    public Tensor Apply(Tensor x, long offset = 0)
    {
        using var scope = NewDisposeScope();
        var length = x.shape[^2];
        var table = TableFor(offset + length, x.dtype, x.device);
        var cos = table.Cos.narrow(0, offset, length);
        var sin = table.Sin.narrow(0, offset, length);
        var rotated = x.narrow(-1, 0, Dimensions);
        var half = Dimensions / 2;
        var x1 = rotated.narrow(-1, 0, half);
        var x2 = rotated.narrow(-1, half, half);
        var rotateHalf = cat([-x2, x1], -1);
        var result = rotated * cos + rotateHalf * sin;
        if (Dimensions < HeadDim)
            result = cat([result, x.narrow(-1, Dimensions, HeadDim - Dimensions)], -1);
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <see cref="Apply(Tensor, long)"/> as ONNX nodes, for <paramref name="x"/> whose last dim is a head's, at
    /// <paramref name="positions"/> (int64) that broadcast against its other dims (<c>[batch, T, 1]</c> for
    /// <c>[batch, T, heads, headDim]</c>, <c>[T]</c> for <c>[batch, heads, T, headDim]</c>): the cosine and sine rows are gathered from tables of
    /// <paramref name="maxPositions"/> rows stored in the graph, the very values the TorchSharp path reads.
    /// </summary>
    public OnnxValue Apply(OnnxValue x, OnnxValue positions, long maxPositions)
    {
        var graph = x.Graph;
        var name = FormattableString.Invariant($"rotary.dims{Dimensions}.base{Theta}");
        var cos = graph.Constant(name + ".cos", () => TableFor(maxPositions, float32, CPU).Cos.narrow(0, 0, maxPositions)).Gather(positions);
        var sin = graph.Constant(name + ".sin", () => TableFor(maxPositions, float32, CPU).Sin.narrow(0, 0, maxPositions)).Gather(positions);
        var half = Dimensions / 2;
        var rotateHalf = OnnxValue.Concat(-1, -x.Narrow(-1, half, half), x.Narrow(-1, 0, half));
        var result = x.Narrow(-1, 0, Dimensions) * cos + rotateHalf * sin;
        return Dimensions < HeadDim ? OnnxValue.Concat(-1, result, x.Narrow(-1, Dimensions, HeadDim - Dimensions)) : result;
    }

    // Tables for positions 0 .. Length-1 of one dtype and device. Never mutated once built; a longer
    // table replaces a shorter one (the old one is left to the GC: another thread may still read it).
    private sealed record Table(long Length, Tensor Cos, Tensor Sin);

    private readonly Dictionary<(ScalarType, DeviceType, int), Table> _tables = new();

    // Positions are rows of the table, and row p is computed exactly as position p always was
    // (float32 p times float32 inverse frequency), so narrowing a table gives bit-identical values to
    // computing the positions on their own; the table is built once per length, not on every call.
    private Table TableFor(long length, ScalarType dtype, Device device)
    {
        var key = (dtype, device.type, device.index);
        lock (_tables)
        {
            if (_tables.TryGetValue(key, out var table) && table.Length >= length) return table;
            var rows = Math.Max(length, Math.Max(256, 2 * (table?.Length ?? 0)));
            using var scope = NewDisposeScope();
            var inverseFrequency = pow(Theta, -arange(0, Dimensions, 2, float32, device) / Dimensions);
            var positions = arange(0, rows, 1, float32, device);
            var angles = outer(positions, inverseFrequency);
            var both = cat([angles, angles], -1);
            table = new Table(rows, both.cos().to(dtype).DetachFromDisposeScope(), both.sin().to(dtype).DetachFromDisposeScope());
            _tables[key] = table;
            return table;
        }
    }
}
