using TokenformerGen.Inference;

namespace TokenformerGen.Onnx;

/// <summary>
/// The KV cache of an exported graph: per layer, the keys and values of earlier positions come in as graph inputs
/// <c>past_key_values.{i}.key</c> / <c>.value</c> <c>[batch, heads, past_sequence, headDim]</c> (zero positions for a
/// prompt) and leave, with the new positions appended, as outputs <c>present.{i}.key</c> / <c>.value</c>, which the caller
/// feeds back as the next step's past. Keys are cached after the rotary embedding, as <see cref="Primitives.LayerKvCache"/> does.
/// The input <c>attention_mask</c> <c>[batch, past_sequence + sequence]</c> (int64) marks each row's real tokens, cached
/// and new, with 1 and its padding with 0, so rows of different lengths share a batch (left-padded, or padded wherever
/// a row had fewer new tokens than another): a token's position is the number of real tokens before it in its row, and
/// no token attends to padding.
/// </summary>
public sealed class OnnxKvCache
{
    /// <summary>Names of the symbolic dimensions the graph's inputs and outputs share.</summary>
    public const string Batch = "batch", Sequence = "sequence", PastSequence = "past_sequence", TotalSequence = "total_sequence";

    /// <summary>The name of the attention-mask input.</summary>
    public const string AttentionMask = "attention_mask";

    private readonly OnnxLayerCache[] _layers;

    /// <summary>
    /// Declares the attention mask and the past inputs of <paramref name="layers"/> layers of <paramref name="heads"/> heads
    /// of <paramref name="headDim"/> dims, for <paramref name="tokens"/> <c>[batch, sequence]</c> at positions below
    /// <paramref name="context"/>.
    /// </summary>
    public OnnxKvCache(OnnxValue tokens, int layers, long heads, long headDim, long context)
    {
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
        // gets position 0, which nothing reads); it may see the real columns 0 .. past + i.
        var scalar = Array.Empty<long>();
        var zero = graph.Int64s([0], scalar: true);
        var past = _layers.Length > 0 ? _layers[0].PastKeys.Shape(2, 3).Reshape(scalar) : zero;
        var total = past + tokens.Shape(1, 2).Reshape(scalar);
        var positions = (mask.CumSum(1) - graph.Int64s([1], scalar: true)).Max(zero);
        Positions = positions.Slice(1, past.Reshape(1), total.Reshape(1)).Unsqueeze(1);
        var causal = OnnxValue.Range(zero, total).Unsqueeze(0).LessOrEqual(OnnxValue.Range(past, total).Unsqueeze(1));
        Mask = causal.And(mask.Greater(zero).Unsqueeze(1).Unsqueeze(1));
    }

    /// <summary>Positions the graph supports: past plus new tokens never exceed it.</summary>
    public long Context { get; }

    /// <summary>The cache of layer <paramref name="layer"/>.</summary>
    public OnnxLayerCache this[int layer] => _layers[layer];

    /// <summary>Positions <c>[batch, 1, sequence]</c> (int64) of the new tokens, from the attention mask.</summary>
    public OnnxValue Positions { get; }

    /// <summary>
    /// Which keys each new token sees, <c>[batch, 1, sequence, total_sequence]</c> (bool): new token i (column past + i)
    /// sees the real tokens of its row in columns 0 .. past + i.
    /// </summary>
    public OnnxValue Mask { get; }

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

    /// <summary>
    /// Appends the new positions' <paramref name="keys"/> and <paramref name="values"/> <c>[batch, heads, sequence, headDim]</c>
    /// to the past ones, makes the results the layer's present outputs, and returns them.
    /// </summary>
    public (OnnxValue Keys, OnnxValue Values) Append(OnnxValue keys, OnnxValue values)
    {
        if (HasPresent) throw new InvalidOperationException($"Layer {Layer}'s cache was already appended to.");
        var allKeys = OnnxValue.ConcatAs(OnnxModelCard.ForLayer(OnnxKvCache.PresentKeyPattern, Layer), 2, PastKeys, keys);
        var allValues = OnnxValue.ConcatAs(OnnxModelCard.ForLayer(OnnxKvCache.PresentValuePattern, Layer), 2, PastValues, values);
        var graph = keys.Graph;
        graph.Output(allKeys, allKeys.Name, OnnxType.Float, OnnxKvCache.Batch, _heads, OnnxKvCache.TotalSequence, HeadDim);
        graph.Output(allValues, allValues.Name, OnnxType.Float, OnnxKvCache.Batch, _heads, OnnxKvCache.TotalSequence, HeadDim);
        HasPresent = true;
        return (allKeys, allValues);
    }
}
