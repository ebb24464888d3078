using Microsoft.ML.OnnxRuntime;
using TokenformerGen.Text.Data;
using TokenformerGen.Text.Inference;
using TokenformerGen.Text.Onnx;

namespace TokenformerGen.OnnxRuntime;

/// <summary>
/// A Tokenformer exported by TokenformerGen (<c>export --onnx DIR</c>), running in ONNX Runtime: the folder's graph, its
/// model card and its tokenizer. <see cref="Run"/> feeds token ids after the positions a <see cref="OrtKvCache"/> holds
/// and extends it, so one graph serves the prompt and every decoding step; <see cref="RunRows"/> takes rows of different
/// lengths, and the cache's <see cref="OrtKvCache.Add"/> and <see cref="OrtKvCache.Remove"/> change its rows between
/// steps, for batches whose requests come and go; <see cref="Generate"/> samples with the very
/// loop and picker TorchSharp's <c>generate</c> uses, so a seed gives the same tokens in both engines.
/// </summary>
/// <remarks>One session serves any number of caches, one <see cref="Run"/> at a time per cache; ONNX Runtime allows concurrent runs.</remarks>
public sealed class OnnxTokenformer : IDisposable
{
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;

    private OnnxTokenformer(string folder, OnnxModelCard card, InferenceSession session, ITextTokenizer tokenizer)
    {
        Folder = folder;
        Card = card;
        Tokenizer = tokenizer;
        _session = session;
        (_inputNames, _outputNames) = GraphNames(folder, card, session);
    }

    // The graph's input and output names as the card spells them, in the order Run passes values. The card sizes what Run
    // reads and allocates (cache shapes, logits rows, these names), so a card from another export or edited by hand is
    // refused first: the number of inputs, their names, the heads and the logits' width must be the graph's.
    private static (string[] Inputs, string[] Outputs) GraphNames(string folder, OnnxModelCard card, InferenceSession session)
    {
        void Refuse(string problem) => throw new InvalidDataException($"{Path.Combine(folder, card.Model)} does not match its card: {problem}.");
        if (session.InputMetadata.Count != 2 + 2L * card.Layers)
            Refuse($"{session.InputMetadata.Count} inputs, where {card.Layers} layers need {2 + 2L * card.Layers}");
        var layers = Enumerable.Range(0, card.Layers).ToList();
        string[] inputs = [card.InputIds, card.AttentionMask, .. layers.SelectMany(i => new[] { OnnxModelCard.ForLayer(card.PastKey, i), OnnxModelCard.ForLayer(card.PastValue, i) })];
        string[] outputs = [card.Logits, .. layers.SelectMany(i => new[] { OnnxModelCard.ForLayer(card.PresentKey, i), OnnxModelCard.ForLayer(card.PresentValue, i) })];
        var missing = inputs.Except(session.InputMetadata.Keys).Concat(outputs.Except(session.OutputMetadata.Keys)).ToList();
        if (missing.Count > 0) Refuse($"missing {string.Join(", ", missing)}");
        var logits = session.OutputMetadata[card.Logits].Dimensions;
        if (logits.Length != 3 || logits[2] != card.PaddedVocabulary)
            Refuse($"logits [{string.Join(", ", logits)}], where the card says [batch, sequence, {card.PaddedVocabulary}]");
        if (card.Layers > 0 && session.InputMetadata[inputs[2]].Dimensions is var past && (past.Length != 4 || past[1] != card.Heads || past[3] != card.HeadDim))
            Refuse($"cached keys [{string.Join(", ", past)}], where the card says [batch, {card.Heads}, past, {card.HeadDim}]");
        return (inputs, outputs);
    }

    /// <summary>The export folder.</summary>
    public string Folder { get; }

    /// <summary>What the folder's card says of the model.</summary>
    public OnnxModelCard Card { get; }

    /// <summary>The tokenizer the card names (the family's, or the folder's <c>tokenizer.json</c>).</summary>
    public ITextTokenizer Tokenizer { get; }

    /// <summary>
    /// Loads the export in <paramref name="folder"/> with all of ONNX Runtime's graph optimisations (Gelu, MatMul and
    /// transpose fusions, constant folding). <paramref name="threads"/> caps the intra-op threads (null: one per core).
    /// </summary>
    /// <exception cref="InvalidDataException">The folder holds no export of this format, or its graph does not match its card.</exception>
    /// <exception cref="TokenizerException">The card's tokenizer cannot be built or does not fit the vocabulary.</exception>
    public static OnnxTokenformer Load(string folder, int? threads = null)
    {
        var card = OnnxModelCard.Read(folder);
        var tokenizer = Tokenizers.For(card.TokenizerKind, card.TokenizerFile is null ? null : Path.Combine(folder, card.TokenizerFile), card.PaddedVocabulary).Tokenizer;
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = threads ?? 0,
            InterOpNumThreads = 1,
        };
        InferenceSession session;
        try
        {
            session = new InferenceSession(Path.Combine(folder, card.Model), options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidDataException($"{Path.Combine(folder, card.Model)}: ONNX Runtime cannot load it ({e.Message.Trim()}).", e);
        }
        try
        {
            return new OnnxTokenformer(folder, card, session, tokenizer);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>An empty KV cache for <paramref name="batch"/> sequences.</summary>
    public OrtKvCache CreateCache(int batch = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        return new OrtKvCache(Card, batch);
    }

    /// <summary>
    /// Runs <paramref name="tokens"/> (row-major <c>[batch, T]</c>, the cache's batch) after the tokens each row of
    /// <paramref name="cache"/> holds, adds them to it, and returns float32 logits, row-major: <c>[batch, T, paddedVocab]</c>,
    /// or <c>[batch, paddedVocab]</c> for the last position alone when <paramref name="lastPositionOnly"/>. With
    /// <c>T = 1</c> this is one decoding step of a batch whose rows sit at different positions.
    /// </summary>
    /// <exception cref="ArgumentException">The ids do not fill whole rows, or a row would pass the context.</exception>
    public float[] Run(ReadOnlySpan<long> tokens, OrtKvCache cache, bool lastPositionOnly = false)
    {
        var batch = cache.Batch;
        if (batch == 0 || tokens.Length == 0 || tokens.Length % batch != 0)
            throw new ArgumentException($"{tokens.Length} token ids do not make {batch} equal rows.", nameof(tokens));
        var length = tokens.Length / batch;
        var mask = new long[tokens.Length];
        mask.AsSpan().Fill(1);
        return RunPadded(tokens.ToArray(), mask, length, cache, lastPositionOnly);
    }

    /// <summary>
    /// Runs each row's new tokens <paramref name="rows"/> (one list per row of <paramref name="cache"/>, each at least one
    /// token; lengths may differ) after the tokens that row holds, adds them to the cache, and returns the logits of each
    /// row's last new token, row-major <c>[batch, paddedVocab]</c>: exactly what each row alone would give. Shorter rows
    /// are left-padded to the longest (padding is masked out, never attended, and takes no position).
    /// </summary>
    /// <exception cref="ArgumentException">Not one non-empty row per cache row, or a row would pass the context.</exception>
    public float[] RunRows(IReadOnlyList<IReadOnlyList<long>> rows, OrtKvCache cache)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Count != cache.Batch || cache.Batch == 0)
            throw new ArgumentException($"{rows.Count} rows of tokens for a cache of {cache.Batch} rows.", nameof(rows));
        var length = rows.Max(r => r.Count);
        if (rows.Any(r => r.Count == 0)) throw new ArgumentException("Every row needs at least one new token.", nameof(rows));
        var tokens = new long[rows.Count * length];
        var mask = new long[rows.Count * length];
        for (var b = 0; b < rows.Count; b++)
        {
            var start = (b * length) + length - rows[b].Count;
            for (var t = 0; t < rows[b].Count; t++)
            {
                tokens[start + t] = rows[b][t];
                mask[start + t] = 1;
            }
        }
        return RunPadded(tokens, mask, length, cache, lastPositionOnly: true);
    }

    // Runs [batch, length] tokens whose padding `mask` marks with 0 after the cache's columns.
    private float[] RunPadded(long[] tokens, long[] mask, int length, OrtKvCache cache, bool lastPositionOnly)
    {
        var batch = cache.Batch;
        for (var b = 0; b < batch; b++)
        {
            var added = 0;
            for (var t = 0; t < length; t++) added += (int)mask[(b * length) + t];
            if (cache.RowLengths[b] + added > Card.Context)
                throw new ArgumentException($"Row {b}: {cache.RowLengths[b]} cached and {added} new positions pass the context of {Card.Context}.", nameof(tokens));
        }

        var columns = cache.Length + length;
        var fullMask = new long[batch * columns];
        for (var b = 0; b < batch; b++)
        {
            cache.Mask.Slice(b * cache.Length, cache.Length).CopyTo(fullMask.AsSpan(b * columns));
            mask.AsSpan(b * length, length).CopyTo(fullMask.AsSpan((b * columns) + cache.Length));
        }
        cache.Reserve(columns);
        var vocabulary = (int)Card.PaddedVocabulary;
        var all = new float[batch * length * vocabulary];
        using var ids = OrtValue.CreateTensorValueFromMemory(tokens, [batch, length]);
        using var attention = OrtValue.CreateTensorValueFromMemory(fullMask, [batch, columns]);
        using var logits = OrtValue.CreateTensorValueFromMemory(all, [batch, length, vocabulary]);
        // The cache's buffers are both the past inputs and the present outputs: the attention writes the new keys and
        // values into them after the cached columns.
        _session.Run(_runOptions, _inputNames, [ids, attention, .. cache.Buffers], _outputNames, [logits, .. cache.Buffers]);
        cache.Advance(length, mask);

        if (!lastPositionOnly || length == 1) return all;   // a decoding step's logits are its last positions already
        var last = new float[batch * vocabulary];
        for (var b = 0; b < batch; b++)
            all.AsSpan(((b * length) + length - 1) * vocabulary, vocabulary).CopyTo(last.AsSpan(b * vocabulary));
        return last;
    }

    /// <summary>
    /// Extends <paramref name="prompt"/> by <paramref name="count"/> tokens and returns them, with the prefill, context
    /// window and sampling of TorchSharp's <c>TextSampler.Generate</c> (<see cref="TokenGenerator"/>).
    /// </summary>
    public List<long> Generate(IReadOnlyList<long> prompt, int count, SamplingOptions options)
    {
        using var sequence = new Sequence(this);
        return TokenGenerator.Generate(sequence, prompt, count, options);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _runOptions.Dispose();
        _session.Dispose();
    }

    // One sequence with its cache, as the sampling loop sees a model.
    private sealed class Sequence(OnnxTokenformer model) : INextTokenModel, IDisposable
    {
        private OrtKvCache _cache = model.CreateCache();

        public int Context => (int)model.Card.Context;

        public int CachedLength => _cache.Length;

        public void ResetCache()
        {
            _cache.Dispose();
            _cache = model.CreateCache();
        }

        public float[] NextLogits(IReadOnlyList<long> tokens, bool useCache)
        {
            var ids = tokens.ToArray();
            if (useCache) return model.Run(ids, _cache, lastPositionOnly: true);
            using var scratch = model.CreateCache();
            return model.Run(ids, scratch, lastPositionOnly: true);
        }

        public void Dispose() => _cache.Dispose();
    }
}
