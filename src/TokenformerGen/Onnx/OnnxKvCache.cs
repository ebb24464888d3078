using TokenformerGen.Inference;
using TokenformerGen.Text.Onnx;

namespace TokenformerGen.Onnx;

/// <summary>
/// The KV cache of an exported graph: per layer, the keys and values of earlier positions come in as graph inputs
/// <c>past_key_values.{i}.key</c> / <c>.value</c> <c>[batch, heads, past_sequence, headDim]</c> and leave, with the new
/// positions written after them, as outputs <c>present.{i}.key</c> / <c>.value</c>. Keys are cached after the rotary
/// embedding, as <see cref="Primitives.LayerKvCache"/> does.
/// The input <c>attention_mask</c> <c>[batch, past + sequence]</c> (int64) marks each row's real tokens, cached and new,
/// with 1 and its padding with 0, so rows of different lengths share a batch (left-padded, or padded wherever a row had
/// fewer new tokens than another): a token's position is the number of real tokens before it in its row, and no token
/// attends to padding. The mask's width, not the past inputs' length, says how many columns are cached, so a past
/// input may be longer than that: a buffer of room for later steps, which the attention operator
/// (<c>com.microsoft</c> GroupQueryAttention) then writes the new positions into in place when the caller binds the
/// same buffer as the present output (ONNX Runtime GenAI's <c>past_present_share_buffer</c>); the present outputs are
/// as long as the past buffer or the mask, whichever is longer. Past inputs exactly as long as the cached columns work too
/// (the operator then copies them into a new present, as a Concat would).
/// </summary>
public sealed class OnnxKvCache
{
    /// <summary>Names of the symbolic dimensions the graph's inputs and outputs share.</summary>
    public const string Batch = "batch", Sequence = "sequence", PastSequence = "past_sequence", TotalSequence = "total_sequence", PresentSequence = "present_sequence";

    /// <summary>The name of the attention-mask input.</summary>
    public const string AttentionMask = "attention_mask";

    private readonly OnnxLayerCache[] _layers;

    /// <summary>
    /// Declares the attention mask and the past inputs of <paramref name="layers"/> layers of <paramref name="heads"/> heads
    /// of <paramref name="headDim"/> dims, for <paramref name="tokens"/> <c>[batch, sequence]</c> at positions below
    /// <paramref name="context"/>.
    /// </summary>
    /// <exception cref="OnnxExportException">The heads' dims are not a multiple of 8, which GroupQueryAttention needs.</exception>
    public OnnxKvCache(OnnxValue tokens, int layers, long heads, long headDim, long context)
    {
        if (headDim % 8 != 0)
            throw new OnnxExportException($"heads of {headDim} dims: the graph's attention, ONNX Runtime's GroupQueryAttention, takes heads of a multiple of 8 dims");
        var graph = tokens.Graph;
        Context = context;
        var mask = graph.Input(AttentionMask, OnnxType.Int64, Batch, TotalSequence);
        _layers = new OnnxLayerCache[layers];
        for (var i = 0; i < layers; i++)
        {
            var keys = graph.Input(OnnxModelCard.ForLayer(PastKeyPattern, i), OnnxType.Float, Batch, heads, PastSequence, headDim);
            var values = graph.Input(OnnxModelCard.ForLayer(PastValuePattern, i), OnnxType.Float, Batch, heads, PastSequence, headDim);
            _layers[i] = new OnnxLayerCache(this, i, keys, values, heads, headDim);
        }

        // Column past + i of a row holds new token i. Its position counts the real tokens before it in the row (padding
        // gets position 0, which nothing reads); it may see the real columns 0 .. past + i, and a padding token sees itself
        // alone.
        var scalar = Array.Empty<long>();
        var zero = graph.Int64s([0], scalar: true);
        var one = graph.Int64s([1], scalar: true);
        var total = mask.Shape(1, 2).Reshape(scalar);
        var sequence = tokens.Shape(1, 2).Reshape(scalar);
        var past = total - sequence;
        var positions = (mask.CumSum(1) - one).Max(zero);
        Positions = positions.Slice(1, past.Reshape(1), total.Reshape(1)).Unsqueeze(2);
        var (columns, queries) = (OnnxValue.Range(zero, total).Unsqueeze(0), OnnxValue.Range(past, total).Unsqueeze(1));
        var real = mask.Greater(zero).Unsqueeze(1).Unsqueeze(1);
        // A padding token sees no real key, yet its row of weights must be finite: its keys and values, though never
        // attended, pass through later layers' products (a weight of 0 times NaN is NaN). So it sees itself.
        var visible = columns.LessOrEqual(queries).And(real.Or(columns.Equal(queries)));
        Bias = graph.Scalar(0f).Where(visible, graph.Scalar(float.MinValue));
        var rows = tokens.Shape(0, 1);
        TotalLength = total.Cast(OnnxType.Int32);
        KeyLengths = (total - one).Cast(OnnxType.Int32).Expand(rows);
        QueryLengths = sequence.Cast(OnnxType.Int32).Expand(rows);
    }

    /// <summary>Positions the graph supports: past plus new tokens never exceed it.</summary>
    public long Context { get; }

    /// <summary>The cache of layer <paramref name="layer"/>.</summary>
    public OnnxLayerCache this[int layer] => _layers[layer];

    /// <summary>Positions <c>[batch, sequence, 1]</c> (int64) of the new tokens, from the attention mask.</summary>
    public OnnxValue Positions { get; }

    /// <summary>
    /// What the attention adds to each new token's scores, <c>[batch, 1, sequence, total_sequence]</c> (float32): 0 for
    /// the keys it sees (new token i, column past + i, sees the real tokens of its row in columns 0 .. past + i; a
    /// padding token only itself), the lowest float for the others.
    /// </summary>
    public OnnxValue Bias { get; }

    /// <summary>Columns after this run (past + sequence), an int32 scalar.</summary>
    public OnnxValue TotalLength { get; }

    /// <summary>Each row's last column after this run (past + sequence − 1), int32 <c>[batch]</c>: the operator's <c>seqlens_k</c>.</summary>
    public OnnxValue KeyLengths { get; }

    /// <summary>Each row's new columns (sequence), int32 <c>[batch]</c>: the operator's <c>query_seqlens</c>.</summary>
    public OnnxValue QueryLengths { get; }

    /// <summary>Graph inputs of the cached keys, <c>{layer}</c> standing for the layer's index.</summary>
    public const string PastKeyPattern = "past_key_values.{layer}.key";

    /// <summary>Graph inputs of the cached values.</summary>
    public const string PastValuePattern = "past_key_values.{layer}.value";

    /// <summary>Graph outputs of the keys with the new positions.</summary>
    public const string PresentKeyPattern = "present.{layer}.key";

    /// <summary>Graph outputs of the values with the new positions.</summary>
    public const string PresentValuePattern = "present.{layer}.value";

    /// <summary>Layers whose attention never produced its present keys and values.</summary>
    internal IEnumerable<int> LayersWithoutPresent => _layers.Where(l => !l.HasPresent).Select(l => l.Layer);
}

/// <summary>One layer's part of an <see cref="OnnxKvCache"/>.</summary>
public sealed class OnnxLayerCache
{
    private readonly long _heads;

    internal OnnxLayerCache(OnnxKvCache cache, int layer, OnnxValue keys, OnnxValue values, long heads, long headDim)
    {
        Cache = cache;
        Layer = layer;
        PastKeys = keys;
        PastValues = values;
        _heads = heads;
        HeadDim = headDim;
    }

    /// <summary>The whole model's cache (positions and mask).</summary>
    public OnnxKvCache Cache { get; }

    /// <summary>The layer's index.</summary>
    public int Layer { get; }

    /// <summary>Keys of earlier positions <c>[batch, heads, past_sequence, headDim]</c>, after rotary.</summary>
    public OnnxValue PastKeys { get; }

    /// <summary>Values of earlier positions <c>[batch, heads, past_sequence, headDim]</c>.</summary>
    public OnnxValue PastValues { get; }

    /// <summary>Dims per head.</summary>
    public long HeadDim { get; }

    internal bool HasPresent { get; private set; }

    /// <summary>The names of the layer's present outputs, which the attention node writes.</summary>
    internal (string Keys, string Values) PresentNames
        => (OnnxModelCard.ForLayer(OnnxKvCache.PresentKeyPattern, Layer), OnnxModelCard.ForLayer(OnnxKvCache.PresentValuePattern, Layer));

    /// <summary>Declares <paramref name="keys"/> and <paramref name="values"/> (named <see cref="PresentNames"/>) the layer's present outputs.</summary>
    internal void Present(OnnxValue keys, OnnxValue values)
    {
        if (HasPresent) throw new InvalidOperationException($"Layer {Layer}'s cache was already written.");
        var graph = keys.Graph;
        graph.Output(keys, PresentNames.Keys, OnnxType.Float, OnnxKvCache.Batch, _heads, OnnxKvCache.PresentSequence, HeadDim);
        graph.Output(values, PresentNames.Values, OnnxType.Float, OnnxKvCache.Batch, _heads, OnnxKvCache.PresentSequence, HeadDim);
        HasPresent = true;
    }
}
