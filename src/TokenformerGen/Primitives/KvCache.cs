using static TorchSharp.torch;

namespace TokenformerGen.Primitives;

/// <summary>Keys and values of earlier positions of one attention layer, for cached decoding.</summary>
public sealed class LayerKvCache : IDisposable
{
    private Tensor? _keys;
    private Tensor? _values;

    /// <summary>Cached positions.</summary>
    public long Length => _keys?.shape[^2] ?? 0;

    /// <summary>
    /// Appends <c>[batch, heads, T, headDim]</c> keys and values and returns all cached ones.
    /// The returned tensors belong to the cache: do not dispose them.
    /// </summary>
    public (Tensor Keys, Tensor Values) Append(Tensor keys, Tensor values)
    {
        var newKeys = _keys is null ? keys.detach().clone() : cat([_keys, keys.detach()], -2);
        var newValues = _values is null ? values.detach().clone() : cat([_values, values.detach()], -2);
        _keys?.Dispose();
        _values?.Dispose();
        _keys = newKeys.DetachFromDisposeScope();
        _values = newValues.DetachFromDisposeScope();
        return (_keys, _values);
    }

    /// <summary>Frees the cached tensors.</summary>
    public void Dispose()
    {
        _keys?.Dispose();
        _values?.Dispose();
        _keys = _values = null;
    }
}

/// <summary>A KV cache for every layer of a model.</summary>
public sealed class KvCache : IDisposable
{
    private readonly LayerKvCache[] _layers;

    /// <summary>Creates an empty cache for <paramref name="layers"/> layers.</summary>
    public KvCache(int layers) => _layers = Enumerable.Range(0, layers).Select(_ => new LayerKvCache()).ToArray();

    /// <summary>The cache of one layer.</summary>
    public LayerKvCache this[int layer] => _layers[layer];

    /// <summary>Cached positions (every layer holds the same number).</summary>
    public long Length => _layers.Length == 0 ? 0 : _layers[0].Length;

    /// <summary>Frees every layer's tensors.</summary>
    public void Dispose()
    {
        foreach (var layer in _layers) layer.Dispose();
    }
}
