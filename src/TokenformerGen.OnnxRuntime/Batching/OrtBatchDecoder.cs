using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace TokenformerGen.OnnxRuntime.Batching;

/// <summary>
/// <see cref="IBatchDecoder"/> over an <see cref="OnnxTokenformer"/> whose graph takes no attention mask: each row keeps
/// its own one-row <see cref="OrtKvCache"/>, and a step runs the rows that hold the same number of positions as one
/// batch (their caches copied side by side for the run and split back after it); rows at different lengths run one
/// group after another.
/// </summary>
/// <remarks>
/// The copies cost two passes over the group's cached keys and values per step, small beside the weights a step reads.
/// A graph with an attention mask lets rows at any lengths share one run; this class is the place to use it.
/// </remarks>
public sealed class OrtBatchDecoder(OnnxTokenformer model) : IBatchDecoder
{
    /// <inheritdoc/>
    public int Context => (int)model.Card.Context;

    /// <inheritdoc/>
    public int Logits => (int)model.Card.PaddedVocabulary;

    /// <inheritdoc/>
    public (IDecoderRow Row, float[] Logits) Start(IReadOnlyList<long> prompt)
    {
        var row = new Row(model.CreateCache());
        try
        {
            return (row, model.Run(prompt.ToArray(), row.Cache, lastPositionOnly: true));
        }
        catch
        {
            row.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public float[] Step(IReadOnlyList<IDecoderRow> rows, IReadOnlyList<long> tokens)
    {
        if (rows.Count != tokens.Count) throw new ArgumentException($"{rows.Count} rows but {tokens.Count} tokens.", nameof(tokens));
        var logits = new float[rows.Count * Logits];
        foreach (var group in Enumerable.Range(0, rows.Count).GroupBy(i => rows[i].Length))
        {
            var members = group.ToArray();
            var caches = members.Select(i => ((Row)rows[i]).Cache).ToArray();
            var ids = members.Select(i => tokens[i]).ToArray();
            var result = caches.Length == 1 ? model.Run(ids, caches[0], lastPositionOnly: true) : RunTogether(caches, ids);
            for (var m = 0; m < members.Length; m++)
                result.AsSpan(m * Logits, Logits).CopyTo(logits.AsSpan(members[m] * Logits));
        }
        return logits;
    }

    // One run over caches of equal length: their past side by side in a batched cache, then each row's slice of the
    // present back into its own cache.
    private float[] RunTogether(OrtKvCache[] caches, long[] ids)
    {
        using var batched = model.CreateCache(caches.Length);
        var values = caches[0].Past.Count;
        batched.Replace([.. Enumerable.Range(0, values).Select(v => Concatenate(caches.Select(c => c.Past[v]).ToArray()))], caches[0].Length);
        var logits = model.Run(ids, batched, lastPositionOnly: true);
        for (var r = 0; r < caches.Length; r++)
            caches[r].Replace([.. batched.Past.Select(value => Slice(value, r, caches.Length))], 1);
        return logits;
    }

    private static OrtValue Concatenate(OrtValue[] rows)
    {
        var shape = rows[0].GetTensorTypeAndShape().Shape;
        shape[0] = rows.Length;
        var joined = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, TensorElementType.Float, shape);
        var target = joined.GetTensorMutableDataAsSpan<float>();
        var offset = 0;
        foreach (var row in rows)
        {
            var source = row.GetTensorDataAsSpan<float>();
            source.CopyTo(target[offset..]);
            offset += source.Length;
        }
        return joined;
    }

    private static OrtValue Slice(OrtValue batch, int row, int rows)
    {
        var shape = batch.GetTensorTypeAndShape().Shape;
        shape[0] = 1;
        var slice = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, TensorElementType.Float, shape);
        var target = slice.GetTensorMutableDataAsSpan<float>();
        batch.GetTensorDataAsSpan<float>().Slice(row * target.Length, target.Length).CopyTo(target);
        return slice;
    }

    /// <summary>The model stays the caller's: disposing the decoder leaves it loaded.</summary>
    public void Dispose()
    {
    }

    private sealed class Row(OrtKvCache cache) : IDecoderRow
    {
        public OrtKvCache Cache { get; } = cache;

        public int Length => Cache.Length;

        public void Dispose() => Cache.Dispose();
    }
}
