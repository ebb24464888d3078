namespace TokenformerGen.Text.Inference;

/// <summary>
/// What sampling needs from a model, whatever runs it (TorchSharp here, ONNX Runtime elsewhere):
/// <see cref="TokenGenerator"/> drives any implementation with the same windowing and the same draws.
/// </summary>
public interface INextTokenModel
{
    /// <summary>Longest sequence the model attends over; no call passes more tokens than this, nor lets the cache grow past it.</summary>
    int Context { get; }

    /// <summary>Positions held in the KV cache (0 after <see cref="ResetCache"/>).</summary>
    int CachedLength { get; }

    /// <summary>Forgets every cached position.</summary>
    void ResetCache();

    /// <summary>
    /// Float32 logits over the padded vocabulary for the position after <paramref name="tokens"/>.
    /// </summary>
    /// <param name="tokens">At least one token id.</param>
    /// <param name="useCache">
    /// True: <paramref name="tokens"/> follow the cached positions and are added to the cache. False: they are a whole
    /// sequence from position 0, and the cache is neither read nor changed.
    /// </param>
    /// <returns>One score per id of the padded vocabulary; the caller owns the array.</returns>
    float[] NextLogits(IReadOnlyList<long> tokens, bool useCache);
}
