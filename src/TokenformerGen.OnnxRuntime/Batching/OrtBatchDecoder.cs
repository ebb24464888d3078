namespace TokenformerGen.OnnxRuntime.Batching;

/// <summary>
/// <see cref="IBatchDecoder"/> over an <see cref="OnnxTokenformer"/>: one batched <see cref="OrtKvCache"/> whose rows sit
/// at their own positions (the graph's attention mask). Prompts started together run in a cache of their own; at the next
/// step their rows join the batch (<see cref="OrtKvCache.Add"/>), and a row leaves it when disposed
/// (<see cref="OrtKvCache.Remove"/>). Each step is one run of the graph for every row, whatever their lengths.
/// </summary>
/// <remarks>
/// Joining and leaving copy the batch's cache once each, between steps (rows that join at one step, once for all of
/// them); a step writes into the cache's buffers in place and copies nothing but when they are full (then once, to
/// twice the columns). The buffers hold at most the context's columns unless padding makes the batch wider, so their
/// memory is bounded by rows × context.
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

    /// <summary>Columns the batched cache's buffers hold room for now (<see cref="OrtKvCache.Capacity"/>): what its memory is sized by.</summary>
    public int BatchedCapacity => _batch.Capacity;

    /// <inheritdoc/>
    /// <remarks>
    /// Prompts run together (<see cref="OnnxTokenformer.RunRows"/>, left-padded) in groups of at most a context's worth of
    /// padded tokens, each group in a cache of its own until the next step.
    /// </remarks>
    public IReadOnlyList<(IDecoderRow Row, float[] Logits)> Start(IReadOnlyList<IReadOnlyList<long>> prompts)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        var started = new List<(IDecoderRow, float[])>(prompts.Count);
        try
        {
            var next = 0;
            while (next < prompts.Count)
            {
                // The longest run of prompts whose padded tokens fit a context (at least one prompt).
                var count = 1;
                var longest = prompts[next].Count;
                while (next + count < prompts.Count && (count + 1) * Math.Max(longest, prompts[next + count].Count) <= Context)
                    longest = Math.Max(longest, prompts[next + count++].Count);
                var group = new Pending(model.CreateCache(count));
                float[] logits;
                try
                {
                    logits = model.RunRows([.. prompts.Skip(next).Take(count)], group.Cache);
                }
                catch
                {
                    group.Cache.Dispose();
                    throw;
                }
                for (var i = 0; i < count; i++)
                {
                    var row = new Row(this) { Pending = group };
                    group.Rows.Add(row);
                    started.Add((row, logits.AsSpan(i * Logits, Logits).ToArray()));
                }
                next += count;
            }
            return started;
        }
        catch
        {
            foreach (var (row, _) in started) row.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The rows are not every live row of this decoder, or there are not as many tokens.</exception>
    public float[] Step(IReadOnlyList<IDecoderRow> rows, IReadOnlyList<long> tokens)
    {
        if (rows.Count != tokens.Count) throw new ArgumentException($"{rows.Count} rows but {tokens.Count} tokens.", nameof(tokens));
        Join([.. rows.Cast<Row>().Select(r => r.Pending).OfType<Pending>().Distinct()]);
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

    // Started rows join together: their groups' caches first, then the batch's cache is copied once for all of them.
    private void Join(List<Pending> groups)
    {
        if (groups.Count == 0) return;
        var joining = groups[0].Cache;
        foreach (var group in groups.Skip(1)) joining.Add(group.Cache);
        _batch.Add(joining);
        foreach (var group in groups)
        {
            foreach (var row in group.Rows)
            {
                row.Pending = null;
                _members.Add(row);
            }
            group.Cache.Dispose();
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

    // Rows whose prompts ran together, in their own cache until they join the batch.
    private sealed class Pending(OrtKvCache cache)
    {
        public OrtKvCache Cache { get; } = cache;

        public List<Row> Rows { get; } = [];

        public void Leave(Row row)
        {
            var index = Rows.IndexOf(row);
            Cache.Remove(index);
            Rows.RemoveAt(index);
            if (Rows.Count == 0) Cache.Dispose();
        }
    }

    // A sequence: in its start group's cache until its first step, in the batch after.
    private sealed class Row(OrtBatchDecoder decoder) : IDecoderRow
    {
        public OrtBatchDecoder Decoder { get; } = decoder;

        public Pending? Pending { get; set; }

        public void Dispose()
        {
            if (Pending is { } pending)
            {
                pending.Leave(this);
                Pending = null;
            }
            else
            {
                Decoder.Leave(this);
            }
        }
    }
}
