using Microsoft.ML.OnnxRuntime;
using TokenformerGen.Inference;

namespace TokenformerGen.OnnxRuntime;

/// <summary>
/// The keys and values of earlier positions of a batch of sequences, for <see cref="OnnxTokenformer.Run"/>: per layer, the
/// graph's present outputs of the last run, handed back as the next run's past inputs without a copy. It starts with
/// zero positions.
/// </summary>
public sealed class OrtKvCache : IDisposable
{
    private OrtValue[] _past;

    internal OrtKvCache(OnnxModelCard card, int batch)
    {
        Batch = batch;
        long[] empty = [batch, card.Heads, 0, card.HeadDim];
        _past = Enumerable.Range(0, 2 * card.Layers).Select(_ => OrtValue.CreateTensorValueFromMemory(Array.Empty<float>(), empty)).ToArray();
    }

    /// <summary>Sequences in the batch.</summary>
    public int Batch { get; }

    /// <summary>Cached positions per sequence.</summary>
    public int Length { get; private set; }

    /// <summary>Each layer's keys, then values, in the order of the graph's past inputs.</summary>
    internal IReadOnlyList<OrtValue> Past => _past;

    // Takes the present outputs of a run over `added` new positions as the new past.
    internal void Replace(OrtValue[] present, int added)
    {
        foreach (var value in _past) value.Dispose();
        _past = present;
        Length += added;
    }

    /// <summary>Frees the cached tensors.</summary>
    public void Dispose()
    {
        foreach (var value in _past) value.Dispose();
        _past = [];
    }
}
