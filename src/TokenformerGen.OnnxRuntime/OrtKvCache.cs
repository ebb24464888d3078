using Microsoft.ML.OnnxRuntime;
using TokenformerGen.Inference;

namespace TokenformerGen.OnnxRuntime;

/// <summary>
/// The keys and values of earlier positions of a batch of sequences, for <see cref="OnnxTokenformer.Run"/> and
/// <see cref="OnnxTokenformer.RunRows"/>: per layer, the graph's present outputs of the last run, handed back as the next
/// run's past inputs without a copy, and the attention mask of every cached column. Rows may hold different numbers of
/// tokens: each row's tokens end at the last column and the columns before them are padding (mask 0), so one decoding
/// step appends one token to every row whatever its length. <see cref="Add"/> and <see cref="Remove"/> change the rows
/// between runs (continuous batching); they copy the cache once, a run never does. It starts with zero positions.
/// </summary>
public sealed class OrtKvCache : IDisposable
{
    private readonly long _heads;
    private readonly long _headDim;
    private OrtValue[] _past;
    private long[] _mask;
    private int[] _lengths;

    internal OrtKvCache(OnnxModelCard card, int batch)
    {
        _heads = card.Heads;
        _headDim = card.HeadDim;
        Layers = card.Layers;
        Batch = batch;
        long[] empty = [batch, card.Heads, 0, card.HeadDim];
        _past = Enumerable.Range(0, 2 * card.Layers).Select(_ => OrtValue.CreateTensorValueFromMemory(Array.Empty<float>(), empty)).ToArray();
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

    /// <summary>Real (unpadded) tokens cached for each row.</summary>
    public IReadOnlyList<int> RowLengths => _lengths;

    private int Layers { get; }

    /// <summary>Each layer's keys, then values, in the order of the graph's past inputs.</summary>
    internal IReadOnlyList<OrtValue> Past => _past;

    /// <summary>The mask of the cached columns, row-major <c>[Batch, Length]</c>.</summary>
    internal ReadOnlySpan<long> Mask => _mask;

    // Takes the present outputs of a run over `added` new columns, whose mask is `newMask` ([Batch, added]), as the new past.
    internal void Replace(OrtValue[] present, int added, ReadOnlySpan<long> newMask)
    {
        var mask = new long[Batch * (Length + added)];
        for (var b = 0; b < Batch; b++)
        {
            _mask.AsSpan(b * Length, Length).CopyTo(mask.AsSpan(b * (Length + added)));
            var columns = newMask.Slice(b * added, added);
            columns.CopyTo(mask.AsSpan((b * (Length + added)) + Length));
            foreach (var m in columns) _lengths[b] += (int)m;
        }
        foreach (var value in _past) value.Dispose();
        _past = present;
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
        Rebuild(rows);
        other.Rebuild([]);
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
        Rebuild([.. Enumerable.Range(0, Batch).Where(b => b != row).Select(b => (this, b))]);
    }

    // Replaces the tensors by the given rows of this and other caches, each row's columns after its leading padding kept
    // and right-aligned in a width that fits the longest.
    private void Rebuild(IReadOnlyList<(OrtKvCache Cache, int Row)> rows)
    {
        int Lead(OrtKvCache c, int row)
        {
            var lead = 0;
            while (lead < c.Length && c._mask[(row * c.Length) + lead] == 0) lead++;
            return lead;
        }
        var kept = rows.Select(r => (r.Cache, r.Row, Skip: Lead(r.Cache, r.Row))).ToList();
        var width = kept.Count == 0 ? 0 : kept.Max(r => r.Cache.Length - r.Skip);
        var past = new OrtValue[_past.Length];
        for (var i = 0; i < past.Length; i++)
        {
            var data = new float[kept.Count * _heads * width * _headDim];
            for (var r = 0; r < kept.Count; r++)
            {
                var (cache, row, skip) = kept[r];
                var source = cache._past[i].GetTensorDataAsSpan<float>();
                var columns = cache.Length - skip;
                for (var h = 0; h < _heads; h++)
                {
                    source.Slice((int)((((row * _heads) + h) * cache.Length + skip) * _headDim), (int)(columns * _headDim))
                          .CopyTo(data.AsSpan((int)((((r * _heads) + h) * width + width - columns) * _headDim)));
                }
            }
            past[i] = OrtValue.CreateTensorValueFromMemory(data, [kept.Count, _heads, width, _headDim]);
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
        foreach (var value in _past) value.Dispose();
        _past = past;
        _mask = mask;
        _lengths = lengths;
        Batch = kept.Count;
        Length = width;
    }

    /// <summary>Frees the cached tensors.</summary>
    public void Dispose()
    {
        foreach (var value in _past) value.Dispose();
        _past = [];
    }
}
