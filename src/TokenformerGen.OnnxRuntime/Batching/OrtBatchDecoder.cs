namespace TokenformerGen.OnnxRuntime.Batching;

/// <summary>
/// <see cref="IBatchDecoder"/> over an <see cref="OnnxTokenformer"/>: one batched <see cref="OrtKvCache"/> whose rows sit
/// at their own positions (the graph's attention mask). A prompt runs in a one-row cache of its own; at the next step
/// that row joins the batch (<see cref="OrtKvCache.Add"/>), and a row leaves it when disposed
/// (<see cref="OrtKvCache.Remove"/>). Each step is one run of the graph for every row, whatever their lengths.
/// </summary>
/// <remarks>
/// Joining and leaving copy the batch's cache once each, between steps (rows that join at one step, once for all of
/// them); a step copies nothing. The cache is at most
/// as wide as its longest row, so its memory is bounded by rows × context.
/// </remarks>
public sealed class OrtBatchDecoder(OnnxTokenformer model) : IBatchDecoder
{
    private readonly OrtKvCache _batch = new(model.Card, 0);
    private readonly List<Row> _members = [];   // the batch's rows in cache order

    /// <inheritdoc/>
    public int Context => (int)model.Card.Context;

    /// <inheritdoc/>
    public int Logits => (int)model.Card.PaddedVocabulary;

    /// <summary>Rows in the batched cache now (rows started but not yet stepped are not in it).</summary>
    public int BatchedRows => _batch.Batch;

    /// <summary>Columns of the batched cache now: its longest row, plus padding every row still shares.</summary>
    public int BatchedColumns => _batch.Length;

    /// <inheritdoc/>
    public (IDecoderRow Row, float[] Logits) Start(IReadOnlyList<long> prompt)
    {
        var row = new Row(this, model.CreateCache());
        try
        {
            return (row, model.Run(prompt.ToArray(), row.Own!, lastPositionOnly: true));
        }
        catch
        {
            row.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The rows are not every live row of this decoder, or there are not as many tokens.</exception>
    public float[] Step(IReadOnlyList<IDecoderRow> rows, IReadOnlyList<long> tokens)
    {
        if (rows.Count != tokens.Count) throw new ArgumentException($"{rows.Count} rows but {tokens.Count} tokens.", nameof(tokens));
        Join([.. rows.Cast<Row>().Where(r => r.Own is not null)]);
        if (rows.Count != _members.Count || rows.Any(r => r is not Row { Decoder: var d } || d != this))
            throw new ArgumentException($"A step takes every row of the batch: {rows.Count} given, {_members.Count} in it.", nameof(rows));
        var ids = new long[rows.Count];
        for (var i = 0; i < rows.Count; i++) ids[_members.IndexOf((Row)rows[i])] = tokens[i];
        var batched = model.Run(ids, _batch, lastPositionOnly: true);
        var logits = new float[batched.Length];
        for (var i = 0; i < rows.Count; i++)
            batched.AsSpan(_members.IndexOf((Row)rows[i]) * Logits, Logits).CopyTo(logits.AsSpan(i * Logits));
        return logits;
    }

    // New rows join together: their small caches first, then the batch's cache is copied once for all of them.
    private void Join(List<Row> rows)
    {
        if (rows.Count == 0) return;
        var joining = rows[0].Own!;
        foreach (var row in rows.Skip(1)) joining.Add(row.Own!);
        _batch.Add(joining);
        foreach (var row in rows)
        {
            row.Own!.Dispose();
            row.Own = null;
            _members.Add(row);
        }
    }

    private void Leave(Row row)
    {
        var index = _members.IndexOf(row);
        if (index < 0) return;
        _batch.Remove(index);
        _members.RemoveAt(index);
    }

    /// <summary>Frees the batched cache; the model stays the caller's.</summary>
    public void Dispose() => _batch.Dispose();

    // A sequence: in its own one-row cache from its prompt until its first step, in the batch after.
    private sealed class Row(OrtBatchDecoder decoder, OrtKvCache own) : IDecoderRow
    {
        public OrtBatchDecoder Decoder { get; } = decoder;

        public OrtKvCache? Own { get; set; } = own;

        public void Dispose()
        {
            if (Own is { } own)
            {
                own.Dispose();
                Own = null;
            }
            else
            {
                Decoder.Leave(this);
            }
        }
    }
}
