using Microsoft.ML.OnnxRuntime;
using TokenformerGen.Text.Onnx;

namespace TokenformerGen.OnnxRuntime;

/// <summary>
/// The keys and values of earlier positions of a batch of sequences, for <see cref="OnnxTokenformer.Run"/> and
/// <see cref="OnnxTokenformer.RunRows"/>: per layer, one buffer of keys and one of values, <c>[batch, heads, capacity,
/// headDim]</c>, that a run binds as both the graph's past input and its present output, so the graph's attention writes
/// the new positions after the cached ones in place and a decoding step copies none of the past (ONNX Runtime GenAI's
/// shared past/present buffer); and the attention mask of every cached column. When a run needs more columns than the
/// buffers hold, they are copied once to buffers of twice the columns needed (up to the context), so a sequence of n
/// tokens is copied O(log n) times rather than at every step, and the buffers are never more than half empty. Rows may hold different numbers of tokens: each row's tokens end at the last cached column and the
/// columns before them are padding (mask 0), so one decoding step appends one token to every row whatever its length.
/// <see cref="Add"/> and <see cref="Remove"/> change the rows between runs (continuous batching); they copy the cache
/// once, a run never does. It starts with zero positions.
/// </summary>
public sealed class OrtKvCache : IDisposable
{
    // Columns of a first buffer: room for a few steps after a short prompt before the first doubling.
    private const int MinimumCapacity = 16;

    private readonly long _heads;
    private readonly long _headDim;
    private readonly int _context;
    private float[][] _data;
    private OrtValue[] _buffers;
    private long[] _mask;
    private int[] _lengths;

    internal OrtKvCache(OnnxModelCard card, int batch)
    {
        _heads = card.Heads;
        _headDim = card.HeadDim;
        _context = checked((int)card.Context);
        Layers = card.Layers;
        Batch = batch;
        (_data, _buffers) = Allocate(batch, 0);
        _mask = [];
        _lengths = new int[batch];
    }

    /// <summary>Sequences (rows) in the batch.</summary>
    public int Batch { get; private set; }

    /// <summary>
    /// Cached columns per row: the cached positions when every row holds as many tokens, else the longest row's tokens
    /// plus any padding columns the rows still share.
    /// </summary>
    public int Length { get; private set; }

    /// <summary>Columns the buffers hold room for (at least <see cref="Length"/>).</summary>
    public int Capacity { get; private set; }

    /// <summary>Real (unpadded) tokens cached for each row.</summary>
    public IReadOnlyList<int> RowLengths => _lengths;

    private int Layers { get; }

    /// <summary>Each layer's keys, then values, in the order of the graph's past inputs and present outputs.</summary>
    internal IReadOnlyList<OrtValue> Buffers => _buffers;

    /// <summary>The mask of the cached columns, row-major <c>[Batch, Length]</c>.</summary>
    internal ReadOnlySpan<long> Mask => _mask;

    // Buffers of `capacity` columns for `batch` rows, zeroed.
    private (float[][] Data, OrtValue[] Values) Allocate(int batch, int capacity)
    {
        var data = new float[2 * Layers][];
        var values = new OrtValue[data.Length];
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = new float[checked(batch * _heads * capacity * _headDim)];
            values[i] = OrtValue.CreateTensorValueFromMemory(data[i], [batch, _heads, capacity, _headDim]);
        }
        return (data, values);
    }

    // The capacity to give buffers that must hold `columns`: twice that (at least MinimumCapacity), so the cache is at most
    // half empty and the next copy is as many steps away as it holds columns; up to the context (further only as far as a
    // padded batch needs).
    private int Grown(int columns) => Math.Max(columns, Math.Min(Math.Max(2 * columns, MinimumCapacity), _context));

    /// <summary>Makes room for <paramref name="columns"/> columns, copying the cached ones to larger buffers when they are full.</summary>
    internal void Reserve(int columns)
    {
        if (columns <= Capacity) return;
        var kept = Enumerable.Range(0, Batch).Select(b => (this, b, 0)).ToList();
        Rebuild(kept, Length, Grown(columns));
    }

    // Records a run that wrote `added` new columns, whose mask is `newMask` ([Batch, added]), into the buffers.
    internal void Advance(int added, ReadOnlySpan<long> newMask)
    {
        var mask = new long[Batch * (Length + added)];
        for (var b = 0; b < Batch; b++)
        {
            _mask.AsSpan(b * Length, Length).CopyTo(mask.AsSpan(b * (Length + added)));
            var columns = newMask.Slice(b * added, added);
            columns.CopyTo(mask.AsSpan((b * (Length + added)) + Length));
            foreach (var m in columns) _lengths[b] += (int)m;
        }
        _mask = mask;
        Length += added;
    }

    /// <summary>
    /// Moves the rows of <paramref name="other"/> (a cache of the same model, e.g. a new request's prefilled prompt) to
    /// the end of this batch, left-padding whichever side is shorter, and empties <paramref name="other"/>. Returns the
    /// index of the first moved row.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="other"/> is this cache or belongs to a model of another shape.</exception>
    public int Add(OrtKvCache other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (ReferenceEquals(other, this)) throw new ArgumentException("A cache cannot take its own rows.", nameof(other));
        if (other.Layers != Layers || other._heads != _heads || other._headDim != _headDim)
            throw new ArgumentException($"The cache holds {other.Layers} layers of {other._heads} × {other._headDim}, this one {Layers} of {_heads} × {_headDim}.", nameof(other));
        var first = Batch;
        var rows = Enumerable.Range(0, Batch).Select(b => (this, b)).Concat(Enumerable.Range(0, other.Batch).Select(b => (other, b))).ToList();
        RebuildUnpadded(rows);
        other.RebuildUnpadded([]);
        return first;
    }

    /// <summary>
    /// Drops row <paramref name="row"/> (a finished request); later rows move up by one. Padding columns that every
    /// remaining row then has are dropped too.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">No such row.</exception>
    public void Remove(int row)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(row);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(row, Batch);
        RebuildUnpadded([.. Enumerable.Range(0, Batch).Where(b => b != row).Select(b => (this, b))]);
    }

    // Replaces the buffers by the given rows of this and other caches, each row's columns after its leading padding kept
    // and right-aligned in a width that fits the longest, with room to grow.
    private void RebuildUnpadded(IReadOnlyList<(OrtKvCache Cache, int Row)> rows)
    {
        int Lead(OrtKvCache c, int row)
        {
            var lead = 0;
            while (lead < c.Length && c._mask[(row * c.Length) + lead] == 0) lead++;
            return lead;
        }
        var kept = rows.Select(r => (r.Cache, r.Row, Skip: Lead(r.Cache, r.Row))).ToList();
        var width = kept.Count == 0 ? 0 : kept.Max(r => r.Cache.Length - r.Skip);
        Rebuild(kept, width, kept.Count == 0 ? 0 : Grown(width));
    }

    // Replaces the buffers by `capacity` columns holding the given rows of this and other caches, each row's columns after
    // `Skip` right-aligned in `width` columns.
    private void Rebuild(IReadOnlyList<(OrtKvCache Cache, int Row, int Skip)> kept, int width, int capacity)
    {
        var (data, buffers) = Allocate(kept.Count, capacity);
        for (var i = 0; i < data.Length; i++)
        {
            for (var r = 0; r < kept.Count; r++)
            {
                var (cache, row, skip) = kept[r];
                var source = cache._data[i];
                var columns = cache.Length - skip;
                for (var h = 0; h < _heads; h++)
                {
                    source.AsSpan((int)((((row * _heads) + h) * cache.Capacity + skip) * _headDim), (int)(columns * _headDim))
                          .CopyTo(data[i].AsSpan((int)((((r * _heads) + h) * capacity + width - columns) * _headDim)));
                }
            }
        }
        var mask = new long[kept.Count * width];
        var lengths = new int[kept.Count];
        for (var r = 0; r < kept.Count; r++)
        {
            var (cache, row, skip) = kept[r];
            var columns = cache.Length - skip;
            cache._mask.AsSpan((row * cache.Length) + skip, columns).CopyTo(mask.AsSpan((r * width) + width - columns));
            lengths[r] = cache._lengths[row];
        }
        foreach (var value in _buffers) value.Dispose();
        (_data, _buffers) = (data, buffers);
        _mask = mask;
        _lengths = lengths;
        Batch = kept.Count;
        Length = width;
        Capacity = capacity;
    }

    /// <summary>Frees the cached tensors.</summary>
    public void Dispose()
    {
        foreach (var value in _buffers) value.Dispose();
        _buffers = [];
        _data = [];
    }
}
